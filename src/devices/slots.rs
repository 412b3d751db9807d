//! The adapter's link slots: how many BLE links may be open at once, handed out by priority.
//!
//! User actions go before background reads; within a priority, first come first served, and
//! every device task asks for at most one slot at a time, so a burst on one device cannot
//! starve the others. Holders of an idle link watch [`LinkSlots::contention`] and give their
//! slot back when someone is waiting.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{oneshot, watch};

/// Who is asking for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// State refreshes and other work nobody is waiting for.
    Background,
    /// A person or an integration is waiting for the answer.
    User,
}

struct Waiters {
    free: usize,
    user: VecDeque<(oneshot::Sender<SlotPermit>, Priority)>,
    background: VecDeque<(oneshot::Sender<SlotPermit>, Priority)>,
}

impl Waiters {
    fn waiting(&self) -> usize {
        self.user.len() + self.background.len()
    }
}

struct Shared {
    waiters: Mutex<Waiters>,
    contention: watch::Sender<usize>,
    capacity: usize,
    /// Link time by the priority of the work that opened the link, in nanoseconds.
    held_user: std::sync::atomic::AtomicU64,
    held_background: std::sync::atomic::AtomicU64,
}

/// The pool of link slots of one adapter.
#[derive(Clone)]
pub struct LinkSlots {
    shared: Arc<Shared>,
}

/// One open link's right to exist; the slot returns to the pool when this is dropped.
pub struct SlotPermit {
    shared: Option<Arc<Shared>>,
    priority: Priority,
    since: tokio::time::Instant,
}

impl LinkSlots {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (contention, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                waiters: Mutex::new(Waiters {
                    free: capacity,
                    user: VecDeque::new(),
                    background: VecDeque::new(),
                }),
                contention,
                capacity,
                held_user: std::sync::atomic::AtomicU64::new(0),
                held_background: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Waits for a slot. Cancel-safe: a dropped waiter is skipped when slots free up.
    pub async fn acquire(&self, priority: Priority) -> SlotPermit {
        let receiver = {
            let mut waiters = lock(&self.shared.waiters);
            let user_ahead = !waiters.user.is_empty();
            let anyone_ahead = waiters.waiting() > 0;
            let may_take = match priority {
                Priority::User => !user_ahead,
                Priority::Background => !anyone_ahead,
            };
            if waiters.free > 0 && may_take {
                waiters.free -= 1;
                publish(&self.shared, &waiters);
                return SlotPermit {
                    shared: Some(self.shared.clone()),
                    priority,
                    since: tokio::time::Instant::now(),
                };
            }
            let (sender, receiver) = oneshot::channel();
            match priority {
                Priority::User => waiters.user.push_back((sender, priority)),
                Priority::Background => waiters.background.push_back((sender, priority)),
            }
            self.shared.contention.send_replace(waiters.waiting());
            publish(&self.shared, &waiters);
            receiver
        };
        match receiver.await {
            Ok(permit) => permit,
            // The pool never drops a queued sender without sending.
            Err(_) => unreachable!("link slot queue dropped a waiter"),
        }
    }

    /// Number of tasks waiting for a slot; idle links close when it rises above zero.
    pub fn contention(&self) -> watch::Receiver<usize> {
        self.shared.contention.subscribe()
    }

    /// Tasks waiting for a slot whose work weighs at least as much as `priority`'s: a holder
    /// with more work of that priority hands its slot over when this is above zero.
    pub fn waiting_at_least(&self, priority: Priority) -> usize {
        let waiters = lock(&self.shared.waiters);
        match priority {
            Priority::User => waiters.user.len(),
            Priority::Background => waiters.waiting(),
        }
    }

    /// Slots not in use right now.
    pub fn free(&self) -> usize {
        lock(&self.shared.waiters).free
    }

    /// Total time links were held, by the priority of the work that opened them (links still
    /// open are not counted yet).
    pub fn held_time(&self, priority: Priority) -> std::time::Duration {
        let nanos = match priority {
            Priority::User => &self.shared.held_user,
            Priority::Background => &self.shared.held_background,
        };
        std::time::Duration::from_nanos(nanos.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl Drop for SlotPermit {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let held = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let counter = match self.priority {
            Priority::User => &shared.held_user,
            Priority::Background => &shared.held_background,
        };
        counter.fetch_add(held, std::sync::atomic::Ordering::Relaxed);
        let mut waiters = lock(&shared.waiters);
        loop {
            let next = waiters
                .user
                .pop_front()
                .or_else(|| waiters.background.pop_front());
            let Some((sender, priority)) = next else {
                waiters.free += 1;
                break;
            };
            let handed = SlotPermit {
                shared: Some(shared.clone()),
                priority,
                since: tokio::time::Instant::now(),
            };
            match sender.send(handed) {
                Ok(()) => break,
                // That waiter gave up; its returned permit must not re-enter this loop.
                Err(mut unused) => unused.shared = None,
            }
        }
        shared.contention.send_replace(waiters.waiting());
        publish(&shared, &waiters);
    }
}

/// The pool's occupancy for `/metrics`: links open and tasks waiting for one.
fn publish(shared: &Shared, waiters: &Waiters) {
    let in_use = shared.capacity.saturating_sub(waiters.free);
    metrics::gauge!("nuki_edge_link_slots_in_use").set(in_use as f64);
    metrics::gauge!("nuki_edge_link_slots_waiting").set(waiters.waiting() as f64);
    metrics::gauge!("nuki_edge_link_slots_capacity").set(shared.capacity as f64);
}

fn lock(waiters: &Mutex<Waiters>) -> MutexGuard<'_, Waiters> {
    waiters
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn user_requests_overtake_background_ones() {
        let slots = LinkSlots::new(1);
        let held = slots.acquire(Priority::Background).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let background = {
            let (slots, order) = (slots.clone(), order.clone());
            tokio::spawn(async move {
                let _permit = slots.acquire(Priority::Background).await;
                order.lock().unwrap().push("background");
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let user = {
            let (slots, order) = (slots.clone(), order.clone());
            tokio::spawn(async move {
                let _permit = slots.acquire(Priority::User).await;
                order.lock().unwrap().push("user");
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(*slots.contention().borrow(), 2);
        drop(held);
        user.await.unwrap();
        background.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["user", "background"]);
        assert_eq!(slots.free(), 1);
        assert_eq!(*slots.contention().borrow(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_does_not_lose_the_slot() {
        let slots = LinkSlots::new(1);
        let held = slots.acquire(Priority::User).await;
        let cancelled = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire(Priority::User).await })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        cancelled.abort();
        let _ = cancelled.await;
        drop(held);
        assert_eq!(slots.free(), 1);
        let _again = slots.acquire(Priority::Background).await;
        assert_eq!(slots.free(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_holders_than_capacity() {
        let slots = LinkSlots::new(3);
        let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20u32)
            .map(|i| {
                let (slots, active, peak) = (slots.clone(), active.clone(), peak.clone());
                tokio::spawn(async move {
                    let priority = if i.is_multiple_of(2) {
                        Priority::User
                    } else {
                        Priority::Background
                    };
                    let _permit = slots.acquire(priority).await;
                    let now = active.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    active.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(slots.free(), 3);
    }
}
