//! Script metrics and alarms, as Rex: `MetricBuilder().name(s).value(x).unit(MetricUnitType::
//! COUNT).dimensions(MetricDimensionsBuilder().add(k, v).build()).publish()` and
//! `AlarmBuilder().type(s).details(s).publish()`. The host validates and bounds them and puts
//! them in the run result.

use std::fmt;

use rhai::{Engine, EvalAltResult};

use super::enums::register_enum;
use super::error::plain;
use crate::bindings::wrex::sdk::log::{MetricUnit, publish_alarm, publish_metric};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `MetricUnitType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricUnitType(MetricUnit);

impl fmt::Display for MetricUnitType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            MetricUnit::Undefined => "UNDEFINED",
            MetricUnit::Count => "COUNT",
            MetricUnit::Time => "TIME",
            MetricUnit::Megabytes => "MEGABYTES",
            MetricUnit::Percent => "PERCENT",
        })
    }
}

/// Rex's `MetricDimensions` (and its builder): key-value pairs, in the order added.
#[derive(Clone, Debug, Default)]
pub struct MetricDimensions(Vec<(String, String)>);

#[derive(Clone, Debug, Default)]
pub struct MetricDimensionsBuilder(Vec<(String, String)>);

#[derive(Clone, Debug, Default)]
pub struct MetricBuilder {
    name: Option<String>,
    value: Option<f64>,
    unit: Option<MetricUnitType>,
    dimensions: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct AlarmBuilder {
    alarm_type: Option<String>,
    details: Option<String>,
}

fn publish(m: &mut MetricBuilder) -> Result<()> {
    let name = m
        .name
        .clone()
        .ok_or_else(|| plain("MetricBuilder: Field not initialized: name"))?;
    let value = m
        .value
        .ok_or_else(|| plain("MetricBuilder: Field not initialized: value"))?;
    let unit = m.unit.map_or(MetricUnit::Undefined, |u| u.0);
    publish_metric(&name, value, unit, &m.dimensions).map_err(plain)
}

pub fn register(engine: &mut Engine) {
    register_enum(
        engine,
        "MetricUnitType",
        [
            MetricUnit::Undefined,
            MetricUnit::Count,
            MetricUnit::Time,
            MetricUnit::Megabytes,
            MetricUnit::Percent,
        ]
        .map(MetricUnitType),
    );
    engine
        .register_type_with_name::<MetricDimensions>("MetricDimensions")
        .register_type_with_name::<MetricDimensionsBuilder>("MetricDimensionsBuilder")
        .register_fn("MetricDimensionsBuilder", MetricDimensionsBuilder::default)
        .register_fn(
            "add",
            |b: &mut MetricDimensionsBuilder, k: &str, v: &str| -> MetricDimensionsBuilder {
                b.0.push((k.to_string(), v.to_string()));
                b.clone()
            },
        )
        .register_fn("build", |b: &mut MetricDimensionsBuilder| {
            MetricDimensions(b.0.clone())
        });
    engine
        .register_type_with_name::<MetricBuilder>("MetricBuilder")
        .register_fn("MetricBuilder", MetricBuilder::default)
        .register_fn("name", |b: &mut MetricBuilder, name: &str| {
            b.name = Some(name.to_string());
            b.clone()
        })
        .register_fn("value", |b: &mut MetricBuilder, value: f64| {
            b.value = Some(value);
            b.clone()
        })
        .register_fn("value", |b: &mut MetricBuilder, value: i64| {
            b.value = Some(value as f64);
            b.clone()
        })
        .register_fn("unit", |b: &mut MetricBuilder, unit: MetricUnitType| {
            b.unit = Some(unit);
            b.clone()
        })
        .register_fn(
            "dimensions",
            |b: &mut MetricBuilder, d: MetricDimensions| {
                b.dimensions = d.0;
                b.clone()
            },
        )
        .register_fn("publish", publish);
    engine
        .register_type_with_name::<AlarmBuilder>("AlarmBuilder")
        .register_fn("AlarmBuilder", AlarmBuilder::default)
        .register_fn("type", |b: &mut AlarmBuilder, t: &str| {
            b.alarm_type = Some(t.to_string());
            b.clone()
        })
        .register_fn("details", |b: &mut AlarmBuilder, d: &str| {
            b.details = Some(d.to_string());
            b.clone()
        })
        .register_fn("publish", |b: &mut AlarmBuilder| -> Result<()> {
            let alarm_type = b
                .alarm_type
                .clone()
                .ok_or_else(|| plain("AlarmBuilder: Field not initialized: type"))?;
            publish_alarm(&alarm_type, b.details.as_deref()).map_err(plain)
        });
}
