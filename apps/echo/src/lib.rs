//! The echo app, as a library: `echo-server` (src/main.rs) runs it with `kit::run`,
//! and the tests (apps/testkit) serve it in their own process with `kit::serve`.

pub mod echo;
pub mod token;

pub use echo::Echo;
