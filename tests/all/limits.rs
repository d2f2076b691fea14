//! The guest cannot hurt the host: a runaway script is stopped, reported, and the same runtime
//! serves the next run.

use std::time::{Duration, Instant};

use wrex::{ErrorType, Job, Limits, Policy};

use crate::util::{Sandbox, runtime, script};

#[test]
fn an_infinite_loop_hits_the_deadline() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let started = Instant::now();
    let out =
        runtime().run(Job::new(script("infinite_loop"), Policy::parse("").unwrap()).limits(limits));
    assert_eq!(
        out.error_type(),
        Some(ErrorType::TimeoutExceeded),
        "{out:#?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_memory_bomb_is_contained_and_the_runtime_still_works() {
    let limits = Limits {
        memory: 64 << 20,
        ..Limits::default()
    };
    let out =
        runtime().run(Job::new(script("memory_bomb"), Policy::parse("").unwrap()).limits(limits));
    assert_eq!(
        out.error_type(),
        Some(ErrorType::InternalException),
        "{out:#?}"
    );
    let sb = Sandbox::new();
    let next = sb.run("cat_allowed", "ro");
    assert_eq!(next.output, "hello\n", "{next:#?}");
}
