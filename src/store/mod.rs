//! Persistence over redb (in progress).
