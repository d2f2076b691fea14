//! Policy loading (parse + strict validation against the schema) never panics; an accepted
//! policy can decide.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wrex::Policy;
use wrex::authz::Authorizer;
use wrex::fs::cedar::FsResource;
use wrex::fs::cedar::action::Read;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::parse(text) {
        let authz = Authorizer::new(policy, "fuzz", None);
        let _ = authz.authorize(Read, &FsResource::File("/tmp/fuzz/a".into()));
    }
});
