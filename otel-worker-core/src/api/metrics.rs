//! Handlers that read metrics: the list of metrics, and one metric's series with their
//! points, raw or folded into steps ([`crate::steps`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Map, Value};

use super::{ApiError, AppState};
use crate::models::{MetricDetail, MetricList, MetricSeries, MetricSummary, Resource};
use crate::query;
use crate::steps::{SeriesKind, fold};
use crate::store::metrics::{MetricKind, SeriesRow};

/// Points one request returns at most over all its series, whatever their number.
pub const MAX_POINTS_PER_REQUEST: u32 = 50_000;

fn temporality(kind: MetricKind, value: i64) -> Option<String> {
    match (kind, value) {
        (MetricKind::Gauge | MetricKind::Summary, _) => None,
        (_, 1) => Some("delta".into()),
        (_, 2) => Some("cumulative".into()),
        _ => None,
    }
}

fn monotonic(kind: MetricKind, value: i64) -> Option<bool> {
    (kind == MetricKind::Sum).then_some(value != 0)
}

/// What makes two services' metrics one entry of the list: name, kind, unit, temporality,
/// monotonicity.
type StreamKey = (String, i64, String, i64, i64);

/// `GET /v1/metrics?service=&q=`: every metric, merged over services and stores.
pub(crate) async fn list_metrics(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<MetricList>, ApiError> {
    let params = query::parameters(raw.as_deref(), query::METRIC_LIST_PARAMETERS)?;
    let limit = query::catalog_limit(params.get("limit"))?;
    let service = params.get("service").map(String::as_str);
    let text = params.get("q").map(String::as_str);
    let mut merged: BTreeMap<StreamKey, (MetricSummary, BTreeSet<String>)> = BTreeMap::new();
    for store in state.shards.all() {
        for row in store.metric_list(service, text).await? {
            let Some(kind) = MetricKind::from_column(row.kind) else {
                continue;
            };
            let last_seen = row.last_seen.as_deref().and_then(|t| t.parse::<u64>().ok());
            let key = (
                row.name.clone(),
                row.kind,
                row.unit.clone(),
                row.temporality,
                row.monotonic,
            );
            let (summary, services) = merged.entry(key).or_insert_with(|| {
                (
                    MetricSummary {
                        name: row.name.clone(),
                        kind: kind.name().into(),
                        unit: row.unit.clone(),
                        description: String::new(),
                        temporality: temporality(kind, row.temporality),
                        monotonic: monotonic(kind, row.monotonic),
                        services: Vec::new(),
                        series: 0,
                        last_seen_unix_nano: None,
                    },
                    BTreeSet::new(),
                )
            });
            if summary.description.is_empty() {
                summary.description = row.description;
            }
            summary.series += row.series;
            summary.last_seen_unix_nano = summary.last_seen_unix_nano.max(last_seen);
            services.extend(row.service);
        }
    }
    let truncated = merged.len() > limit;
    let metrics = merged
        .into_values()
        .take(limit)
        .map(|(mut summary, services)| {
            summary.services = services.into_iter().collect();
            summary
        })
        .collect();
    Ok(Json(MetricList { metrics, truncated }))
}

/// `GET /v1/metrics/{name}`: the metric's series (filtered by service and attributes) with
/// their newest points in the range, oldest first, or folded into steps.
pub(crate) async fn get_metric(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<MetricDetail>, ApiError> {
    let query = query::metric(raw.as_deref())?;
    let mut rows: Vec<SeriesRow> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut per_store: Vec<Vec<String>> = Vec::new();
    let mut exists = false;
    for store in state.shards.all() {
        let found = store.metric_series(&name, query.service.as_deref()).await?;
        exists |= !found.is_empty();
        let mut ids = Vec::new();
        for row in found {
            let attributes: Map<String, Value> =
                serde_json::from_str(&row.attributes).unwrap_or_default();
            let wanted = query.attributes.iter().all(|(key, value)| {
                attributes
                    .get(key)
                    .is_some_and(|v| query::attribute_matches(v, value))
            });
            if wanted && seen.insert(row.series_id.clone()) {
                ids.push(row.series_id.clone());
                rows.push(row);
            }
        }
        per_store.push(ids);
    }
    if !exists {
        return Err(ApiError::NotFound(format!(
            "metric {name:?} not found{}",
            query
                .service
                .as_ref()
                .map(|s| format!(" for service {s:?}"))
                .unwrap_or_default()
        )));
    }
    let per_series = query
        .limit
        .min(MAX_POINTS_PER_REQUEST / (rows.len().max(1) as u32))
        .max(1);
    let mut points: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for (store, ids) in state.shards.all().iter().zip(&per_store) {
        if ids.is_empty() {
            continue;
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let found = store
            .metric_points(
                &ids,
                query.start_ns.unwrap_or(0),
                query.end_ns.unwrap_or(u64::MAX),
                per_series + 1,
            )
            .await?;
        for point in found {
            let time = point.time_ns.parse::<u64>().unwrap_or(0);
            points
                .entry(point.series_id)
                .or_default()
                .push((time, point.body));
        }
    }
    // Series by service, then attributes: the stored attribute text has its keys in order.
    rows.sort_by(|a, b| (&a.service, &a.attributes).cmp(&(&b.service, &b.attributes)));
    let first = rows.first();
    let kind = first
        .and_then(|r| MetricKind::from_column(r.kind))
        .unwrap_or(MetricKind::Gauge);
    let mut partial = false;
    let mut series: Vec<MetricSeries> = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut found = points.remove(&row.series_id).unwrap_or_default();
        // Newest first from the store, one more than asked: more there means partial.
        if found.len() > per_series as usize {
            partial = true;
            found.truncate(per_series as usize);
        }
        found.reverse();
        let raw: Vec<Value> = found
            .into_iter()
            .map(|(time, body)| {
                let mut point: Map<String, Value> = serde_json::from_str(&body).unwrap_or_default();
                point.insert("timeUnixNano".into(), time.to_string().into());
                Value::Object(point)
            })
            .collect();
        let row_kind = MetricKind::from_column(row.kind).unwrap_or(kind);
        let points = match query.step_ns {
            Some(step) => fold(
                SeriesKind {
                    kind: row_kind,
                    temporality: row.temporality,
                    monotonic: row.monotonic != 0,
                },
                &raw,
                step,
            ),
            None => raw,
        };
        let resource: Resource = serde_json::from_str(&row.resource).unwrap_or_default();
        series.push(MetricSeries {
            attributes: serde_json::from_str(&row.attributes).unwrap_or_default(),
            resource: resource.attributes,
            service_name: row.service.clone(),
            points,
        });
    }
    Ok(Json(MetricDetail {
        name,
        kind: kind.name().into(),
        unit: first.map(|r| r.unit.clone()).unwrap_or_default(),
        description: first.map(|r| r.description.clone()).unwrap_or_default(),
        temporality: first.and_then(|r| temporality(kind, r.temporality)),
        monotonic: first.and_then(|r| monotonic(kind, r.monotonic)),
        step: query.step,
        series,
        partial,
    }))
}

/// Points `GET /v1/export/metrics` reads at most when `maxPoints` does not say.
pub const DEFAULT_EXPORT_POINTS: u32 = 100_000;

/// `GET /v1/export/metrics[?name=N][&service=S][&start=T][&end=T][&maxPoints=N]`: metric
/// points as OTLP JSON Lines, a line per metric stream (and database), its series grouped
/// by resource and scope, each series' points oldest first. Past `maxPoints` (100,000
/// unless asked, and at most the home's export items) each series keeps its
/// newest points, and `Otel-Worker-Truncated: true` says so.
pub(crate) async fn export_metrics(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    use crate::otlp_json::{MetricStream, StoredSeries, metrics_request};
    let q = query::export_metrics(raw.as_deref())?;
    let max =
        u64::from(q.max_points.unwrap_or(DEFAULT_EXPORT_POINTS)).min(state.export_items) as usize;
    let mut names = BTreeSet::new();
    for store in state.shards.all() {
        for row in store.metric_list(q.service.as_deref(), None).await? {
            names.insert(row.name);
        }
    }
    if let Some(name) = &q.name {
        names.retain(|n| n == name);
    }
    let json = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let (mut lines, mut written, mut truncated) = (String::new(), 0, false);
    'metrics: for name in names {
        for store in state.shards.all() {
            // Series of one name may be of different streams (kind, unit, description).
            let mut streams: BTreeMap<(i64, String, String, i64, i64), Vec<SeriesRow>> =
                BTreeMap::new();
            for row in store.metric_series(&name, q.service.as_deref()).await? {
                let key = (
                    row.kind,
                    row.unit.clone(),
                    row.description.clone(),
                    row.temporality,
                    row.monotonic,
                );
                streams.entry(key).or_default().push(row);
            }
            for ((kind, unit, description, temporality, monotonic), rows) in streams {
                if written >= max {
                    truncated = true;
                    break 'metrics;
                }
                // Each series' share of what is left, and one more to see if it had more.
                let per_series = ((max - written) / rows.len()).max(1);
                let ids: Vec<&str> = rows.iter().map(|r| r.series_id.as_str()).collect();
                let mut points: BTreeMap<String, Vec<(u64, Value)>> = BTreeMap::new();
                for point in store
                    .metric_points(
                        &ids,
                        q.start_ns.unwrap_or(0),
                        q.end_ns.unwrap_or(u64::MAX),
                        u32::try_from(per_series + 1).unwrap_or(u32::MAX),
                    )
                    .await?
                {
                    let time = point.time_ns.parse::<u64>().unwrap_or(0);
                    points
                        .entry(point.series_id)
                        .or_default()
                        .push((time, json(&point.body)));
                }
                let series: Vec<StoredSeries> = rows
                    .iter()
                    .filter_map(|row| {
                        let mut points = points.remove(&row.series_id)?;
                        if points.len() > per_series {
                            truncated = true;
                            points.truncate(per_series);
                        }
                        // Read newest first; files hold them in time order.
                        points.reverse();
                        written += points.len();
                        Some(StoredSeries {
                            resource: json(&row.resource),
                            scope: json(&row.scope),
                            attributes: json(&row.attributes),
                            points,
                        })
                    })
                    .collect();
                if series.is_empty() {
                    continue;
                }
                let stream = MetricStream {
                    name: name.clone(),
                    kind,
                    unit,
                    description,
                    temporality,
                    monotonic: monotonic != 0,
                };
                lines.push_str(&metrics_request(&stream, &series).to_string());
                lines.push('\n');
            }
        }
    }
    Ok(super::download::json_lines(
        lines,
        truncated,
        "metrics.jsonl",
    ))
}
