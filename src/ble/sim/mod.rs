//! Simulated Boxes, Smart Locks and Openers (in progress).
