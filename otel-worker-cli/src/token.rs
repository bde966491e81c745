//! Where the bearer token comes from: the flag or `AUTH_TOKEN` (clap reads both), else
//! the `AUTH_TOKEN` line of `.dev.vars` in the current directory, the file wrangler reads.

/// The file wrangler reads secrets from during `wrangler dev`.
pub const DEV_VARS_FILE: &str = ".dev.vars";

/// The token to use, if any; an empty value counts as none.
pub fn resolve(explicit: Option<String>) -> Option<String> {
    explicit
        .or_else(from_dev_vars)
        .filter(|token| !token.is_empty())
}

fn from_dev_vars() -> Option<String> {
    // `from_path_iter` reads exactly this file; `from_filename_iter` would also search the
    // parent directories and pick up some other project's token.
    let entries = dotenvy::from_path_iter(DEV_VARS_FILE).ok()?;
    entries
        .filter_map(Result::ok)
        .find_map(|(key, value)| (key == "AUTH_TOKEN").then_some(value))
}
