//! The system's wall clock, read in one place (seconds since the Unix epoch, UTC).

/// Now, in whole seconds; 0 when the system clock is set before 1970.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
