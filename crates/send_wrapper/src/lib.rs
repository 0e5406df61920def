//! `SendWrapper<T>`: a value that is `Send + Sync` by promise, usable only on the thread that made
//! it. The API of the `send_wrapper` 0.6 crate, which Leptos's reactive graph and renderer wrap
//! every browser object, signal value and event handler in; written here so that wasm32 without
//! threads pays nothing for it.
//!
//! Why (issue 14, the wasm size budget): the original asks `std::thread::current()` for an id on
//! every wrap and every access. On wasm32 that call brings in std's thread handle, which std
//! allocates with `System` (dlmalloc) whatever the global allocator is: ~4.6 KB of wasm, plus a
//! comparison and a panic path inlined at each of Leptos's accesses. On wasm32 without the
//! `atomics` feature there is exactly one thread, so the check can never fail and is compiled
//! out. Everywhere else (the native SSR server, the tests) the check is kept: a wrapper used or
//! dropped on another thread panics, as with the original.
//!
//! The top-level `Cargo.toml` puts this crate in place of crates.io's with `[patch.crates-io]`.

use std::fmt;
use std::mem::{self, ManuallyDrop};
use std::ops::{Deref, DerefMut};

#[cfg(feature = "futures")]
mod futures;

/// The thread a wrapper belongs to.
#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner(std::thread::ThreadId);

#[cfg(not(all(target_arch = "wasm32", not(target_feature = "atomics"))))]
impl Owner {
    fn current() -> Owner {
        Owner(std::thread::current().id())
    }
    fn is_current(&self) -> bool {
        *self == Owner::current()
    }
}

/// The one thread there is: nothing to record, nothing to compare.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner;

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl Owner {
    #[inline(always)]
    fn current() -> Owner {
        Owner
    }
    #[inline(always)]
    fn is_current(&self) -> bool {
        true
    }
}

/// A non-`Send` value that may be moved between threads but only used, and dropped, on the thread
/// that wrapped it; doing otherwise panics.
pub struct SendWrapper<T> {
    data: ManuallyDrop<T>,
    owner: Owner,
}

// SAFETY: every access to `data` (deref, take, poll, clone, drop of a value with drop glue) first
// checks that it happens on the owning thread, and panics otherwise; on single-threaded wasm32
// there is no other thread.
unsafe impl<T> Send for SendWrapper<T> {}
unsafe impl<T> Sync for SendWrapper<T> {}

impl<T> SendWrapper<T> {
    /// Wraps `data`, owned by the current thread.
    pub fn new(data: T) -> SendWrapper<T> {
        SendWrapper {
            data: ManuallyDrop::new(data),
            owner: Owner::current(),
        }
    }

    /// Whether the value may be used on the current thread.
    pub fn valid(&self) -> bool {
        self.owner.is_current()
    }

    /// The value, out of the wrapper.
    ///
    /// # Panics
    /// On another thread than the one that wrapped it.
    #[track_caller]
    pub fn take(self) -> T {
        self.check("taken");
        let mut this = ManuallyDrop::new(self);
        // SAFETY: on the owning thread; `this` is never dropped, so `data` is moved out once.
        unsafe { ManuallyDrop::take(&mut this.data) }
    }

    #[track_caller]
    #[inline]
    fn check(&self, what: &'static str) {
        if !self.valid() {
            wrong_thread(what)
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn wrong_thread(what: &'static str) -> ! {
    panic!("a SendWrapper<T> value was {what} on another thread than the one that created it")
}

impl<T> Deref for SendWrapper<T> {
    type Target = T;

    /// # Panics
    /// On another thread than the one that wrapped the value.
    #[track_caller]
    fn deref(&self) -> &T {
        self.check("used");
        &self.data
    }
}

impl<T> DerefMut for SendWrapper<T> {
    /// # Panics
    /// On another thread than the one that wrapped the value.
    #[track_caller]
    fn deref_mut(&mut self) -> &mut T {
        self.check("used");
        &mut self.data
    }
}

impl<T> Drop for SendWrapper<T> {
    /// Drops the value. A value without drop glue may be dropped anywhere; one with drop glue
    /// dropped on another thread panics, unless that thread is already panicking (no double panic).
    #[track_caller]
    fn drop(&mut self) {
        if !mem::needs_drop::<T>() || self.valid() {
            // SAFETY: on the owning thread (or nothing to run); `data` is dropped only here.
            unsafe { ManuallyDrop::drop(&mut self.data) }
        } else if !std::thread::panicking() {
            wrong_thread("dropped")
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for SendWrapper<T> {
    /// # Panics
    /// On another thread than the one that wrapped the value.
    #[track_caller]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendWrapper")
            .field("data", self.deref())
            .finish()
    }
}

impl<T: Clone> Clone for SendWrapper<T> {
    /// A wrapper of a clone of the value, owned by the current thread.
    ///
    /// # Panics
    /// On another thread than the one that wrapped the value.
    #[track_caller]
    fn clone(&self) -> Self {
        Self::new(self.deref().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::SendWrapper;
    use std::rc::Rc;
    use std::thread;

    #[test]
    fn the_value_is_used_and_taken_on_its_own_thread() {
        let wrapped = SendWrapper::new(Rc::new(41));
        assert!(wrapped.valid());
        assert_eq!(**wrapped + 1, 42);
        let copy = wrapped.clone();
        assert_eq!(*copy.take(), 41);
        assert_eq!(format!("{wrapped:?}"), "SendWrapper { data: 41 }");
    }

    #[test]
    fn it_travels_to_another_thread_and_back_unused() {
        let wrapped = SendWrapper::new(Rc::new(7));
        let back = thread::spawn(move || {
            assert!(!wrapped.valid());
            wrapped
        })
        .join()
        .unwrap();
        assert_eq!(*back.take(), 7);
    }

    #[test]
    fn using_it_on_another_thread_panics() {
        let wrapped = SendWrapper::new(Rc::new(7));
        let outcome = thread::spawn(move || {
            let _ = **wrapped;
        })
        .join();
        assert!(outcome.is_err());
    }

    #[test]
    fn dropping_a_value_with_drop_glue_on_another_thread_panics_and_one_without_does_not() {
        let with_glue = SendWrapper::new(Rc::new(7));
        assert!(thread::spawn(move || drop(with_glue)).join().is_err());
        let plain = SendWrapper::new(7u32);
        assert!(thread::spawn(move || drop(plain)).join().is_ok());
    }
}
