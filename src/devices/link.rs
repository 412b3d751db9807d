//! One device link driving the protocol over a BleLink (in progress).
