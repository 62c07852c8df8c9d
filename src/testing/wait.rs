//! Waiting in real time without a runtime: a sleep that a helper thread
//! ends, so that the store check runs on tokio, async-std, smol or any
//! executor, and never blocks the executor's thread (on a current-thread
//! runtime, the store's own connection tasks keep running meanwhile).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A future ready `duration` after it is first polled.
pub(super) struct ThreadSleep {
    duration: Duration,
    shared: Option<Arc<Mutex<Shared>>>,
}

#[derive(Default)]
struct Shared {
    elapsed: bool,
    waker: Option<Waker>,
}

impl ThreadSleep {
    pub(super) fn new(duration: Duration) -> Self {
        Self { duration, shared: None }
    }
}

impl Future for ThreadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        let shared = match &self.shared {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(Mutex::new(Shared::default()));
                let timer = Arc::clone(&shared);
                let spawned = std::thread::Builder::new()
                    .name("yoco-webhooks-check-sleep".into())
                    .spawn(move || {
                        std::thread::sleep(duration);
                        let waker = timer.lock().ok().and_then(|mut state| {
                            state.elapsed = true;
                            state.waker.take()
                        });
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    });
                if spawned.is_err() {
                    // No thread to be had: wait on this one, which is still
                    // a real wait, only one that holds the executor.
                    std::thread::sleep(duration);
                    return Poll::Ready(());
                }
                self.shared = Some(Arc::clone(&shared));
                shared
            }
        };
        match shared.lock() {
            Ok(mut state) if !state.elapsed => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
            // Elapsed, or the timer thread died holding the lock (it cannot
            // panic while holding it, but a wait that never ends would be
            // worse than one cut short).
            _ => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn it_waits_in_real_time_without_holding_the_executor() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let started = Instant::now();
        let ticks = runtime.block_on(async {
            let mut ticks = 0;
            let counting = async {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks += 1;
                }
            };
            tokio::select! {
                () = ThreadSleep::new(Duration::from_millis(200)) => {}
                () = counting => {}
            }
            ticks
        });
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(ticks >= 5, "other tasks ran meanwhile: {ticks} ticks");
    }
}
