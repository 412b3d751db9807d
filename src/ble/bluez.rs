//! BlueZ backend through btleplug (in progress).
