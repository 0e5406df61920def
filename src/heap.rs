//! The shipped bundles' memory allocator: blocks in power-of-two size classes, one free list per
//! class, carved from memory the module grows.
//!
//! Hand-written for the size budget (issue 14): std's default allocator for wasm32, dlmalloc, is
//! ~5.5 KB of the registration wasm before wasm-opt (splitting, coalescing, trees of large free
//! chunks); this one is a few hundred bytes. What a checkout page allocates is small and short-lived
//! (views, signals, strings, a few vectors), so what this gives up costs little there:
//!
//! - a block is never split or merged: a request takes the class of its size rounded up to a power
//!   of two (at least [`MIN_BLOCK`]), so a block is at most twice what was asked for;
//! - a freed block goes back on its class's list and serves the next request of that class only;
//! - memory is never given back to the browser (no wasm module can shrink its memory).
//!
//! A block of class `2^k` is aligned to `min(2^k, PAGE)`, so any request whose alignment is at
//! most its rounded size fits; a request aligned to more than a 64 KiB page fails (null: the
//! caller's allocation-error handler aborts), which no code in the bundles asks for.
//!
//! Only the bundles' binaries install it ([`install_bundle_heap!`] in `src/main.rs`,
//! `src/bin/return.rs`, and the dev loop's `src/bin/dev.rs`) and the browser tests
//! (`tests/browser.rs`); the library never does, so an app that links the crate keeps its own
//! allocator. The size-class logic is plain Rust over a [`Pages`] source, tested natively below.

use core::alloc::Layout;
use core::ptr::null_mut;

/// The unit a wasm memory grows by: 64 KiB.
pub const PAGE: usize = 65_536;
/// The smallest block: room for the free list's link, and 8-byte alignment for every small
/// request.
pub const MIN_BLOCK: usize = 8;
/// Size classes are powers of two, indexed by their exponent; `usize::BITS` of them covers every
/// size a `Layout` can have.
const CLASSES: usize = usize::BITS as usize;

/// Where fresh memory comes from: the wasm module's own memory in the bundles, a test arena
/// natively.
pub trait Pages {
    /// Adds `count` pages and returns the address of the first new byte, or `None` if there is no
    /// more memory.
    fn grow(&mut self, count: usize) -> Option<usize>;
}

/// The size-class heap over a source of pages. Not thread-safe: the bundles' wasm has one thread.
pub struct Heap<P> {
    /// Per class exponent, the first free block (0: none); a free block's first word links the next.
    free: [usize; CLASSES],
    /// The part of the last pages grown not yet carved into blocks: `next..end`.
    next: usize,
    end: usize,
    pages: P,
}

/// A request's class exponent, or `None` when no block can serve it (its rounded size overflows,
/// or it asks for more than page alignment).
fn class_of(layout: Layout) -> Option<u32> {
    if layout.align() > PAGE {
        return None;
    }
    let size = layout.size().max(layout.align()).max(MIN_BLOCK);
    Some(size.checked_next_power_of_two()?.trailing_zeros())
}

impl<P: Pages> Heap<P> {
    /// An empty heap that grows from `pages` when it first allocates.
    pub const fn new(pages: P) -> Self {
        Heap {
            free: [0; CLASSES],
            next: 0,
            end: 0,
            pages,
        }
    }

    /// A block for `layout`, or null when there is no memory for it.
    ///
    /// # Safety
    /// The heap's free lists must only hold blocks it handed out and that were given back with
    /// [`Heap::free`] (what `GlobalAlloc`'s contract guarantees).
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some(class) => self.take(class),
            None => null_mut(),
        }
    }

    /// Gives back a block that [`Heap::alloc`] returned for `layout`.
    ///
    /// # Safety
    /// `block` came from this heap's `alloc` (or `realloc`) with this `layout`, and is not used
    /// after this call.
    pub unsafe fn free(&mut self, block: *mut u8, layout: Layout) {
        if let Some(class) = class_of(layout) {
            let list = &mut self.free[class as usize];
            (block as *mut usize).write(*list);
            *list = block as usize;
        }
    }

    /// The block resized to `new_size`: the same block when the size class does not change,
    /// otherwise a new one with the contents copied over (and the old one freed). Null, with the old
    /// block untouched, when there is no memory for the new one.
    ///
    /// # Safety
    /// As [`Heap::free`] for `block` and `layout`; `new_size` rounded up to `layout.align()` does
    /// not overflow `isize` (what `GlobalAlloc::realloc` guarantees).
    pub unsafe fn realloc(&mut self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(new_layout) == class_of(layout) {
            return block;
        }
        let moved = self.alloc(new_layout);
        if !moved.is_null() {
            core::ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
            self.free(block, layout);
        }
        moved
    }

    /// A block of class `2^class`: the first on its free list, or carved from fresh memory.
    unsafe fn take(&mut self, class: u32) -> *mut u8 {
        let list = &mut self.free[class as usize];
        if *list != 0 {
            let block = *list;
            *list = *(block as *const usize);
            return block as *mut u8;
        }
        self.carve(1 << class)
            .map_or(null_mut(), |block| block as *mut u8)
    }

    /// A fresh block of `size` (a power of two), aligned to `min(size, PAGE)`.
    fn carve(&mut self, size: usize) -> Option<usize> {
        let align = size.min(PAGE);
        loop {
            // `end` is page-aligned and never past the last page, so this cannot overflow.
            let start = (self.next + align - 1) & !(align - 1);
            let stop = start.checked_add(size)?;
            if stop <= self.end {
                self.next = stop;
                return Some(start);
            }
            // Grow by the whole pages the block still needs past the end. New pages normally
            // follow the old ones; if they do not, the rest of the old ones is left unused.
            let count = (stop - self.end).div_ceil(PAGE);
            let base = self.pages.grow(count)?;
            if base != self.end {
                self.next = base;
            }
            self.end = base.checked_add(count.checked_mul(PAGE)?)?;
        }
    }
}

/// Installs [`wasm::WasmHeap`] as the global allocator of the binary it is written in, on
/// single-threaded wasm32 (elsewhere it expands to nothing): one line in each bundle's `main` file
/// and in the browser tests, the condition kept here with the allocator.
#[macro_export]
macro_rules! install_bundle_heap {
    () => {
        #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
        #[global_allocator]
        static HEAP: $crate::heap::wasm::WasmHeap = $crate::heap::wasm::WasmHeap::new();
    };
}

/// The bundles' global allocator: a [`Heap`] over the wasm module's memory.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub mod wasm {
    use super::{Heap, Pages, PAGE};
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    /// Pages from `memory.grow` on the module's memory 0.
    pub struct ModuleMemory;

    impl Pages for ModuleMemory {
        fn grow(&mut self, count: usize) -> Option<usize> {
            match core::arch::wasm32::memory_grow(0, count) {
                usize::MAX => None,
                old_pages => Some(old_pages * PAGE),
            }
        }
    }

    /// `#[global_allocator] static HEAP: WasmHeap = WasmHeap::new();`
    pub struct WasmHeap(UnsafeCell<Heap<ModuleMemory>>);

    // SAFETY: wasm32 without the atomics feature has one thread, and an allocation never runs
    // inside another: the heap is never touched from two places at once.
    unsafe impl Sync for WasmHeap {}

    impl WasmHeap {
        /// The empty heap; it grows the module's memory when it first allocates.
        #[allow(clippy::new_without_default)]
        pub const fn new() -> Self {
            WasmHeap(UnsafeCell::new(Heap::new(ModuleMemory)))
        }
    }

    unsafe impl GlobalAlloc for WasmHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            (*self.0.get()).alloc(layout)
        }
        unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
            (*self.0.get()).free(block, layout)
        }
        unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            (*self.0.get()).realloc(block, layout, new_size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test arena of `capacity` pages, handed out in order like a wasm memory that grows.
    struct Arena {
        base: *mut u8,
        capacity: usize,
        grown: usize,
        /// Each `grow` call's page count, to see how much the heap asked for.
        calls: Vec<usize>,
    }

    impl Arena {
        fn new(capacity: usize) -> Arena {
            let layout = Layout::from_size_align(capacity * PAGE, PAGE).unwrap();
            // SAFETY: a non-zero size.
            let base = unsafe { std::alloc::alloc(layout) };
            assert!(!base.is_null());
            Arena {
                base,
                capacity,
                grown: 0,
                calls: Vec::new(),
            }
        }
    }

    impl Drop for Arena {
        fn drop(&mut self) {
            let layout = Layout::from_size_align(self.capacity * PAGE, PAGE).unwrap();
            // SAFETY: allocated in `new` with this layout.
            unsafe { std::alloc::dealloc(self.base, layout) }
        }
    }

    impl Pages for Arena {
        fn grow(&mut self, count: usize) -> Option<usize> {
            self.calls.push(count);
            if self.grown + count > self.capacity {
                return None;
            }
            let first = self.base as usize + self.grown * PAGE;
            self.grown += count;
            Some(first)
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// A live block and the byte it was filled with, to catch two blocks that overlap.
    struct Live {
        block: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn fill(live: &Live) {
        // SAFETY: the block is live and `layout.size()` long.
        unsafe { core::ptr::write_bytes(live.block, live.fill, live.layout.size()) }
    }

    fn assert_intact(live: &Live) {
        // SAFETY: as in `fill`.
        let bytes = unsafe { core::slice::from_raw_parts(live.block, live.layout.size()) };
        assert!(
            bytes.iter().all(|&b| b == live.fill),
            "a block of {:?} was overwritten",
            live.layout
        );
    }

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_class() {
        let mut heap = Heap::new(Arena::new(4));
        unsafe {
            let first = heap.alloc(layout(24, 8));
            heap.free(first, layout(24, 8));
            // 17..=32 bytes are one class.
            assert_eq!(heap.alloc(layout(32, 4)), first);
            assert_ne!(heap.alloc(layout(24, 8)), first);
        }
    }

    #[test]
    fn blocks_are_aligned_as_asked_and_never_overlap_under_a_long_mixed_workload() {
        let mut heap = Heap::new(Arena::new(256));
        let mut live: Vec<Live> = Vec::new();
        // A fixed pseudo-random sequence (a linear congruential generator): reproducible.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % bound
        };
        for step in 0..20_000u32 {
            let action = next(10);
            // At most ~300 blocks live at once, so the arena's 16 MiB hold them.
            if (action < 5 && live.len() < 300) || live.is_empty() {
                let size = match next(8) {
                    0 => 1 + next(8) as usize,
                    1..=4 => 1 + next(200) as usize,
                    5 | 6 => 1 + next(5_000) as usize,
                    _ => 1 + next(150_000) as usize,
                };
                let align = 1usize << next(7);
                let item = Live {
                    block: unsafe { heap.alloc(layout(size, align)) },
                    layout: layout(size, align),
                    fill: step as u8,
                };
                assert!(!item.block.is_null());
                assert_eq!(item.block as usize % align, 0, "{:?}", item.layout);
                fill(&item);
                live.push(item);
            } else if action < 8 {
                let item = live.swap_remove(next(live.len() as u64) as usize);
                assert_intact(&item);
                unsafe { heap.free(item.block, item.layout) };
            } else {
                let index = next(live.len() as u64) as usize;
                let item = &mut live[index];
                assert_intact(item);
                let new_size = 1 + next(10_000) as usize;
                let moved = unsafe { heap.realloc(item.block, item.layout, new_size) };
                assert!(!moved.is_null());
                let kept = item.layout.size().min(new_size);
                let bytes = unsafe { core::slice::from_raw_parts(moved, kept) };
                assert!(
                    bytes.iter().all(|&b| b == item.fill),
                    "realloc lost the contents"
                );
                item.block = moved;
                item.layout = layout(new_size, item.layout.align());
                fill(item);
            }
        }
        for item in &live {
            assert_intact(item);
        }
    }

    #[test]
    fn memory_grows_by_what_the_blocks_need_and_not_again_when_they_are_reused() {
        let mut heap = Heap::new(Arena::new(16));
        unsafe {
            for _ in 0..1_000 {
                let block = heap.alloc(layout(100, 8));
                let other = heap.alloc(layout(3_000, 8));
                heap.free(block, layout(100, 8));
                heap.free(other, layout(3_000, 8));
            }
            assert_eq!(heap.pages.calls, vec![1]);
            // A block larger than a page: grown by the pages it still needs.
            let big = heap.alloc(layout(3 * PAGE, 8));
            assert!(!big.is_null());
            assert_eq!(big as usize % PAGE, 0);
            assert_eq!(
                heap.pages.grown,
                1 + 4,
                "4 pages for a 256 KiB block aligned to a page"
            );
        }
    }

    #[test]
    fn a_block_stays_in_place_while_its_class_fits() {
        let mut heap = Heap::new(Arena::new(4));
        unsafe {
            let block = heap.alloc(layout(40, 8));
            block.write(7);
            assert_eq!(heap.realloc(block, layout(40, 8), 64), block);
            let moved = heap.realloc(block, layout(64, 8), 65);
            assert_ne!(moved, block);
            assert_eq!(moved.read(), 7);
            // The old block went back on its list.
            assert_eq!(heap.alloc(layout(64, 8)), block);
        }
    }

    #[test]
    fn a_request_no_block_can_serve_is_null_not_a_wrong_block() {
        let mut heap = Heap::new(Arena::new(2));
        unsafe {
            assert!(
                heap.alloc(layout(8, 2 * PAGE)).is_null(),
                "alignment beyond a page"
            );
            assert!(
                heap.alloc(layout(3 * PAGE, 8)).is_null(),
                "more than the memory left"
            );
            assert!(
                heap.alloc(layout(isize::MAX as usize - 7, 8)).is_null(),
                "more than any memory"
            );
            // Nothing was lost: the memory still serves what fits.
            assert!(!heap.alloc(layout(PAGE, 8)).is_null());
        }
    }
}
