//! The one harness of the integration tests. Each test target compiles this module and uses
//! only some of it, hence the blanket `dead_code` allowance.
#![allow(dead_code)]

pub mod sim;
