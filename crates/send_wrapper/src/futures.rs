//! `Future` and `Stream` for a wrapped future or stream (the `futures` feature, as the original's).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::SendWrapper;

impl<F: Future> Future for SendWrapper<F> {
    type Output = F::Output;

    /// # Panics
    /// Polled on another thread than the one that wrapped the future.
    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.check("polled");
        // SAFETY: the future lives inside the pinned wrapper and is never moved out of it while
        // pinned (`take` needs the wrapper by value, which a pin does not give).
        unsafe { self.map_unchecked_mut(|this| &mut *this.data) }.poll(cx)
    }
}

impl<S: Stream> Stream for SendWrapper<S> {
    type Item = S::Item;

    /// # Panics
    /// Polled on another thread than the one that wrapped the stream.
    #[track_caller]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.check("polled");
        // SAFETY: as for `Future::poll`.
        unsafe { self.map_unchecked_mut(|this| &mut *this.data) }.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (**self).size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    fn noop_waker() -> Waker {
        const VTABLE: RawWakerVTable = RawWakerVTable::new(
            |_| RawWaker::new(std::ptr::null(), &VTABLE),
            |_| {},
            |_| {},
            |_| {},
        );
        // SAFETY: every entry of the vtable does nothing with the null pointer.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
    }

    #[test]
    fn a_wrapped_future_is_polled_through_the_wrapper() {
        let value = Rc::new(3);
        let future = std::pin::pin!(SendWrapper::new(async move { *value * 2 }));
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(future.poll(&mut cx), Poll::Ready(6));
    }
}
