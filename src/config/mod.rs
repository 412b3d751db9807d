//! Typed configuration (in progress).
