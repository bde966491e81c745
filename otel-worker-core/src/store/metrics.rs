//! Metric series and their points: the rows an export becomes, their parameters, and the
//! reads behind `GET /v1/metrics` (SQL in [`super::sql`]).

use serde::Deserialize;

use super::{Param, Statement, Store, StoreError, sql};

/// A metric's data kind as the `kind` column stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge = 1,
    Sum = 2,
    Histogram = 3,
    ExponentialHistogram = 4,
    Summary = 5,
}

impl MetricKind {
    pub fn from_column(value: i64) -> Option<Self> {
        Some(match value {
            1 => Self::Gauge,
            2 => Self::Sum,
            3 => Self::Histogram,
            4 => Self::ExponentialHistogram,
            5 => Self::Summary,
            _ => return None,
        })
    }

    /// The API's name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Sum => "sum",
            Self::Histogram => "histogram",
            Self::ExponentialHistogram => "exponentialHistogram",
            Self::Summary => "summary",
        }
    }
}

/// One series as stored in `metric_series`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRecord {
    /// A 53-bit hash of the metric's identity, resource and scope, and attributes.
    pub id: i64,
    pub name: String,
    pub kind: MetricKind,
    pub unit: String,
    pub description: String,
    /// OTLP's AggregationTemporality (0 for kinds without one).
    pub temporality: i32,
    pub monotonic: bool,
    /// [`super::ResourceRecord::id`] of its resource and scope.
    pub resource_id: i64,
    /// The point attributes as a JSON object, keys in order.
    pub attributes: String,
}

/// One point as stored in `metric_points`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRecord {
    pub series_id: i64,
    pub time_ns: u64,
    /// The point's API JSON without `timeUnixNano`.
    pub body: String,
}

pub(super) fn series_params(s: &SeriesRecord) -> Vec<Param> {
    vec![
        Param::Text(s.id.to_string()),
        s.name.as_str().into(),
        Param::Int(s.kind as i64),
        s.unit.as_str().into(),
        s.description.as_str().into(),
        Param::Int(i64::from(s.temporality)),
        Param::Int(i64::from(s.monotonic)),
        Param::Text(s.resource_id.to_string()),
        s.attributes.as_str().into(),
    ]
}

pub(super) fn point_params(p: &PointRecord) -> Vec<Param> {
    vec![
        Param::Text(p.series_id.to_string()),
        super::ns_param(p.time_ns),
        p.body.as_str().into(),
    ]
}

/// The statements that store an export's series and points, after its resources.
pub(super) fn statements(series: &[&SeriesRecord], points: &[&PointRecord]) -> Vec<Statement> {
    if points.is_empty() {
        return Vec::new();
    }
    let rows: Vec<Vec<Param>> = points.iter().map(|p| point_params(p)).collect();
    vec![
        Statement::Rows {
            per_row: sql::INSERT_SERIES,
            as_json: sql::INSERT_SERIES_JSON,
            rows: series.iter().map(|s| series_params(s)).collect(),
        },
        Statement::Rows {
            per_row: sql::COUNT_NEW_POINT,
            as_json: sql::COUNT_NEW_POINTS_JSON,
            rows: rows.clone(),
        },
        Statement::Rows {
            per_row: sql::INSERT_POINT,
            as_json: sql::INSERT_POINTS_JSON,
            rows,
        },
    ]
}

/// One metric stream of one service, as [`sql::METRIC_LIST`] reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricListRow {
    pub name: String,
    pub kind: i64,
    pub unit: String,
    pub description: String,
    pub temporality: i64,
    pub monotonic: i64,
    pub service: Option<String>,
    pub series: u64,
    pub last_seen: Option<String>,
}

/// One series of a metric, as [`sql::METRIC_SERIES`] reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct SeriesRow {
    pub series_id: String,
    pub kind: i64,
    pub unit: String,
    pub description: String,
    pub temporality: i64,
    pub monotonic: i64,
    /// JSON object text.
    pub attributes: String,
    /// The resource's [`crate::models::Resource`] JSON text.
    pub resource: String,
    /// The scope's [`crate::models::Scope`] JSON text.
    pub scope: String,
    pub service: Option<String>,
}

/// One point, as [`sql::METRIC_POINTS`] reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct PointRow {
    pub series_id: String,
    pub time_ns: String,
    pub body: String,
}

impl Store {
    /// Every metric stream of each service (filtered by service and by text in the name).
    pub async fn metric_list(
        &self,
        service: Option<&str>,
        text: Option<&str>,
    ) -> Result<Vec<MetricListRow>, StoreError> {
        self.rows(Statement::new(
            sql::METRIC_LIST,
            vec![service.into(), text.into()],
        ))
        .await
    }

    /// The series of the metric `name` (of one service, if given).
    pub async fn metric_series(
        &self,
        name: &str,
        service: Option<&str>,
    ) -> Result<Vec<SeriesRow>, StoreError> {
        self.rows(Statement::new(
            sql::METRIC_SERIES,
            vec![name.into(), service.into()],
        ))
        .await
    }

    /// The newest `per_series` points of each of `series` with `start <= time < end`,
    /// newest first within each series.
    pub async fn metric_points(
        &self,
        series: &[&str],
        start_ns: u64,
        end_ns: u64,
        per_series: u32,
    ) -> Result<Vec<PointRow>, StoreError> {
        let ids = serde_json::to_string(series).map_err(|e| StoreError::Other(e.to_string()))?;
        self.rows(Statement::new(
            sql::METRIC_POINTS,
            vec![
                Param::Text(ids),
                Param::Text(start_ns.min(i64::MAX as u64).to_string()),
                Param::Text(end_ns.min(i64::MAX as u64).to_string()),
                Param::Int(i64::from(per_series)),
            ],
        ))
        .await
    }
}
