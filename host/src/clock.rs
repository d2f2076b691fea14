//! The clock capability (`wrex:sdk/clock`): the wall clock and randomness, which the guest
//! has none of its own. Not checked by Cedar (it touches nothing of the system); each call
//! counts against the run's host-call limit.

use std::time::SystemTime;

use crate::authz::Authorizer;
use crate::bindings::wit_clock as wit;
use crate::limits::Meter;

/// Most random bytes one call returns.
pub const MAX_RANDOM_BYTES: u32 = 1 << 20;

/// What the capability's host functions can reach.
pub(crate) struct ClockView<'a> {
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

impl ClockView<'_> {
    fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }
}

impl wit::Host for ClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<(i64, u32)> {
        self.host_call()?;
        Ok(
            match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
                Ok(d) => (
                    i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    d.subsec_nanos(),
                ),
                // A clock before 1970: negative seconds, nanoseconds counted forward.
                Err(e) => {
                    let d = e.duration();
                    let (s, n) = (
                        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                        d.subsec_nanos(),
                    );
                    if n == 0 {
                        (-s, 0)
                    } else {
                        (-s - 1, 1_000_000_000 - n)
                    }
                }
            },
        )
    }

    fn random_bytes(&mut self, len: u32) -> wasmtime::Result<Result<Vec<u8>, String>> {
        self.host_call()?;
        if len > MAX_RANDOM_BYTES {
            return Ok(Err(format!(
                "{len} random bytes asked; at most {MAX_RANDOM_BYTES} per call"
            )));
        }
        let mut bytes = vec![0u8; len as usize];
        getrandom::fill(&mut bytes)
            .map_err(|e| wasmtime::format_err!("the host's random source failed: {e}"))?;
        Ok(Ok(bytes))
    }
}

crate::bindings::capability_linker!(wit, ClockView, "clock");
