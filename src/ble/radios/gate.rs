//! One radio's link slots: our links through it never exceed its capacity, and a proxy that
//! reports no free slot (other clients of the proxy use slots too) gets no connect.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

use crate::ble::SlotReport;

#[derive(Debug)]
struct Slots {
    ours: usize,
    capacity: usize,
}

#[derive(Debug)]
struct Shared {
    slots: Mutex<Slots>,
    freed: Notify,
    reports: Option<watch::Receiver<SlotReport>>,
}

/// The link slots of one radio.
#[derive(Debug, Clone)]
pub struct SlotGate {
    shared: Arc<Shared>,
}

/// One of our links through the radio; the slot is free again when this is dropped.
#[derive(Debug)]
pub struct GatePermit {
    shared: Arc<Shared>,
}

impl SlotGate {
    /// `capacity`: our links at most; `reports`: the radio's own account of free slots.
    pub fn new(capacity: usize, reports: Option<watch::Receiver<SlotReport>>) -> Self {
        Self {
            shared: Arc::new(Shared {
                slots: Mutex::new(Slots {
                    ours: 0,
                    capacity: capacity.max(1),
                }),
                freed: Notify::new(),
                reports,
            }),
        }
    }

    /// Waits for a slot. Cancel-safe.
    pub async fn acquire(&self) -> GatePermit {
        let mut reports = self.shared.reports.clone();
        loop {
            let freed = self.shared.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(permit) = self.try_acquire() {
                return permit;
            }
            let mut silenced = false;
            match reports.as_mut() {
                Some(reports) => {
                    tokio::select! {
                        () = &mut freed => {}
                        changed = reports.changed() => silenced = changed.is_err(),
                    }
                }
                None => freed.await,
            }
            if silenced {
                // The radio stopped reporting: our own count decides alone from now on.
                reports = None;
            }
        }
    }

    /// A slot now, if one is free.
    pub fn try_acquire(&self) -> Option<GatePermit> {
        let mut slots = lock(&self.shared.slots);
        if slots.ours >= self.capacity_now(&slots) || !self.radio_has_room() {
            return None;
        }
        slots.ours += 1;
        Some(GatePermit {
            shared: self.shared.clone(),
        })
    }

    /// Our links through the radio now.
    pub fn in_use(&self) -> usize {
        lock(&self.shared.slots).ours
    }

    /// Links we may hold at most: the radio's reported limit where it reports one.
    pub fn capacity(&self) -> usize {
        let slots = lock(&self.shared.slots);
        self.capacity_now(&slots)
    }

    /// The radio's last report, where it reports.
    pub fn reported(&self) -> Option<SlotReport> {
        self.shared.reports.as_ref().map(|r| *r.borrow())
    }

    fn capacity_now(&self, slots: &Slots) -> usize {
        match self.reported() {
            Some(report) if report.limit > 0 => report.limit,
            _ => slots.capacity,
        }
    }

    fn radio_has_room(&self) -> bool {
        // A proxy that never reported (limit 0) is not refused on that account: the connect
        // itself says whether it had room.
        self.reported()
            .is_none_or(|report| report.limit == 0 || report.free > 0)
    }
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let mut slots = lock(&self.shared.slots);
        slots.ours = slots.ours.saturating_sub(1);
        drop(slots);
        self.shared.freed.notify_waiters();
    }
}

fn lock(slots: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    slots
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn never_more_links_than_capacity_and_a_freed_slot_wakes_a_waiter() {
        let gate = SlotGate::new(2, None);
        let first = gate.acquire().await;
        let _second = gate.acquire().await;
        assert!(gate.try_acquire().is_none());
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!waiter.is_finished());
        drop(first);
        let _third = waiter.await.unwrap();
        assert_eq!(gate.in_use(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_proxy_without_free_slots_gets_no_connect_until_it_reports_one() {
        let (reports, receiver) = watch::channel(SlotReport { free: 0, limit: 3 });
        let gate = SlotGate::new(3, Some(receiver));
        assert!(gate.try_acquire().is_none());
        assert_eq!(gate.capacity(), 3);
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire().await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!waiter.is_finished());
        reports.send_replace(SlotReport { free: 1, limit: 3 });
        let _permit = waiter.await.unwrap();
        assert_eq!(gate.in_use(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reported_limit_replaces_the_configured_capacity() {
        let (_reports, receiver) = watch::channel(SlotReport { free: 5, limit: 1 });
        let gate = SlotGate::new(3, Some(receiver));
        let _only = gate.try_acquire().unwrap();
        assert!(gate.try_acquire().is_none());
    }
}
