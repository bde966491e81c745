//! The statistics of a group comparison: percentiles, the Mann-Whitney U test for
//! durations, the two-proportion z test for error rates, and Holm's correction for
//! testing many operations at once.
//!
//! Why these: span durations are skewed and heavy-tailed (a few slow calls, a long
//! tail), so a test on means (Student's t) is pulled by outliers; Mann-Whitney compares
//! ranks, assumes no distribution, and with the normal approximation (ties corrected)
//! costs a sort. Errors are counts of failed calls among calls, so a two-proportion
//! test. A report tests every operation, so without a correction one in twenty
//! unchanged operations would look significant; Holm's step-down correction holds the
//! chance of any false alarm in the whole report to the chosen level, and is never
//! weaker than Bonferroni's.

/// The nearest-rank percentile `q` (0 to 1) of `sorted` (ascending); 0 when empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What [`mann_whitney`] finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// Two-sided, from the normal approximation.
    pub p_value: f64,
    /// The chance that a value drawn from `b` is larger than one drawn from `a` (ties
    /// count half): 0.5 when neither tends to be larger.
    pub prob_greater: f64,
}

/// The Mann-Whitney U test of `a` against `b`; `None` when either is empty.
pub fn mann_whitney(a: &[u64], b: &[u64]) -> Option<RankTest> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut all: Vec<(u64, bool)> = a
        .iter()
        .map(|v| (*v, false))
        .chain(b.iter().map(|v| (*v, true)))
        .collect();
    all.sort_unstable_by_key(|(v, _)| *v);
    let n = all.len() as f64;
    // Ranks from 1, a run of ties sharing the average of its ranks.
    let mut rank_sum_b = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let average = (i + 1 + j) as f64 / 2.0;
        let in_b = all[i..j].iter().filter(|(_, b)| *b).count() as f64;
        rank_sum_b += average * in_b;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let u_b = rank_sum_b - n2 * (n2 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    let p_value = if variance <= 0.0 {
        1.0
    } else {
        // With the continuity correction: half a step towards the mean.
        let distance = ((u_b - mean).abs() - 0.5).max(0.0);
        (2.0 * normal_tail(distance / variance.sqrt())).min(1.0)
    };
    Some(RankTest {
        p_value,
        prob_greater: u_b / (n1 * n2),
    })
}

/// The two-sided p-value of the two-proportion z test: `x1` of `n1` against `x2` of
/// `n2` (pooled); 1 when there is nothing to tell apart.
pub fn two_proportions(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let spread = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if spread <= 0.0 {
        return 1.0;
    }
    let z = (x2 as f64 / n2f - x1 as f64 / n1f) / spread;
    (2.0 * normal_tail(z.abs())).min(1.0)
}

/// Holm's step-down adjustment: each p-value made comparable with the report's level
/// (`adjusted <= alpha` rejects), in the order given.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// P(Z > z) for a standard normal Z, from the complementary error function.
pub fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function, by its Chebyshev-fitted exponential form (relative
/// error under 1.2e-7 everywhere: more than a p-value needs).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_tail_matches_its_table() {
        for (z, tail) in [
            (0.0, 0.5),
            (1.0, 0.158_655_25),
            (1.959_964, 0.025),
            (3.0, 0.001_349_9),
        ] {
            assert!(
                (normal_tail(z) - tail).abs() < 1e-6,
                "{z}: {}",
                normal_tail(z)
            );
        }
        assert!((normal_tail(-1.0) - 0.841_344_75).abs() < 1e-6);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(
            (
                percentile(&v, 0.5),
                percentile(&v, 0.9),
                percentile(&v, 0.99)
            ),
            (50, 90, 99)
        );
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn mann_whitney_agrees_with_a_worked_example() {
        // Two samples of 10: the second's ranks are 1, 2, 3, 4, 6, 7, 9, 11, 14 and 17
        // (sum 74), so U = 74 - 55 = 19, z = (|19 - 50| - 0.5) / sqrt(175) = 2.306 and
        // p = 0.0211.
        let a = [12, 15, 17, 19, 20, 22, 24, 26, 28, 30];
        let b = [3, 5, 8, 10, 13, 14, 16, 18, 21, 25];
        let test = mann_whitney(&a, &b).unwrap();
        assert!((test.prob_greater - 0.19).abs() < 1e-9, "{test:?}");
        assert!((test.p_value - 0.0211).abs() < 0.0005, "{test:?}");
        // Swapped: the same evidence, the other direction.
        let swapped = mann_whitney(&b, &a).unwrap();
        assert!((swapped.prob_greater - 0.81).abs() < 1e-9);
        assert!((swapped.p_value - test.p_value).abs() < 1e-12);
        // The same values on both sides: nothing to tell apart.
        let same = mann_whitney(&a, &a).unwrap();
        assert!((same.p_value - 1.0).abs() < 1e-9 && (same.prob_greater - 0.5).abs() < 1e-9);
        // All ties: no variance, no evidence.
        assert_eq!(mann_whitney(&[5, 5], &[5, 5, 5]).unwrap().p_value, 1.0);
        assert!(mann_whitney(&[], &[1]).is_none());
    }

    #[test]
    fn two_proportions_agrees_with_a_worked_example() {
        // 10 of 200 against 30 of 200: pooled 0.1, z = 0.1 / sqrt(0.09 * 0.01) = 3.333.
        let p = two_proportions(10, 200, 30, 200);
        assert!(
            (p - 2.0 * normal_tail(10.0 / 3.0)).abs() < 1e-12 && p < 0.001,
            "{p}"
        );
        assert_eq!(two_proportions(0, 50, 0, 80), 1.0);
        assert_eq!(two_proportions(1, 0, 1, 5), 1.0);
    }

    #[test]
    fn holm_multiplies_the_smallest_by_the_most_and_keeps_the_order() {
        let adjusted = holm(&[0.04, 0.01, 0.03, 0.5]);
        for (got, want) in adjusted.iter().zip([0.09, 0.04, 0.09, 0.5]) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
    }
}
