//! Appending short pieces to an encoder's output.
//!
//! Why by hand: the encoders append two or three dozen pieces per span (keys, ids, names, tag
//! values), most of them under 32 bytes. `Vec::extend_from_slice` copies a piece of unknown
//! length through a call to `memcpy`, which was 7–9% of the OTLP protobuf and Zipkin JSON
//! encoders' instructions (callgrind, `report encode` in `benches/`); two overlapping word
//! copies do it inline ([`copy_short`]), a writer that knows its size reserves it once
//! ([`Room`]), and one that writes many pieces keeps the vector's length in a [`Cursor`].

/// Copies `bytes` to `target`, without a call to `memcpy` up to 64 bytes (a pre-encoded member
/// such as the Zipkin local endpoint): the first and the last 32 bytes, overlapping, from 33.
///
/// # Safety
/// `target` must be valid for `bytes.len()` writes and not overlap `bytes`.
#[inline(always)]
pub(super) unsafe fn copy_bytes(bytes: &[u8], target: *mut u8) {
    let count = bytes.len();
    let source = bytes.as_ptr();
    // SAFETY: `copy_short` copies up to 32 bytes from the source to the target, both valid
    // for `count`; for 33 to 64 bytes, the first 32 and the last 32 the same way; beyond,
    // all of them by `copy_nonoverlapping`.
    unsafe {
        if count <= 32 {
            copy_short(source, target, count);
        } else if count <= 64 {
            copy_short(source, target, 32);
            copy_short(source.add(count - 32), target.add(count - 32), 32);
        } else {
            std::ptr::copy_nonoverlapping(source, target, count);
        }
    }
}

/// Copies `count` ≤ 32 bytes from `source` to `target` with two loads and two stores: the first
/// and the last word (of 16, 8, 4 or 2 bytes) of the piece, overlapping when the piece is
/// shorter than two words.
///
/// # Safety
/// `source` must be valid for `count` reads and `target` for `count` writes, the two must not
/// overlap, and `count` must be at most 32.
#[inline(always)]
pub(super) unsafe fn copy_short(source: *const u8, target: *mut u8, count: usize) {
    debug_assert!(count <= 32);
    // SAFETY: in every branch, each load reads a word that starts at `source` or ends at
    // `source + count`, and each store writes the word at the same offset of `target`, so all
    // of them stay within the `count` bytes the caller vouched for; unaligned accesses are
    // used because neither pointer has any alignment.
    unsafe {
        if count > 16 {
            let head = source.cast::<u128>().read_unaligned();
            let tail = source.add(count - 16).cast::<u128>().read_unaligned();
            target.cast::<u128>().write_unaligned(head);
            target.add(count - 16).cast::<u128>().write_unaligned(tail);
        } else if count >= 8 {
            let head = source.cast::<u64>().read_unaligned();
            let tail = source.add(count - 8).cast::<u64>().read_unaligned();
            target.cast::<u64>().write_unaligned(head);
            target.add(count - 8).cast::<u64>().write_unaligned(tail);
        } else if count >= 4 {
            let head = source.cast::<u32>().read_unaligned();
            let tail = source.add(count - 4).cast::<u32>().read_unaligned();
            target.cast::<u32>().write_unaligned(head);
            target.add(count - 4).cast::<u32>().write_unaligned(tail);
        } else if count >= 2 {
            let head = source.cast::<u16>().read_unaligned();
            let tail = source.add(count - 2).cast::<u16>().read_unaligned();
            target.cast::<u16>().write_unaligned(head);
            target.add(count - 2).cast::<u16>().write_unaligned(tail);
        } else if count == 1 {
            *target = *source;
        }
    }
}

/// Room reserved at the end of a vector, filled front to back and counted into the vector's
/// length when dropped. A writer that knows what it will write (an OTLP attribute, whose
/// lengths are computed first) reserves once and then writes without a capacity check per
/// piece; each write is still checked against the room, one compare, so a wrong size is a
/// panic, never a write out of bounds.
pub(super) struct Room<'a> {
    out: &'a mut Vec<u8>,
    /// Bytes written past the vector's length.
    filled: usize,
    /// Bytes reserved past the vector's length.
    size: usize,
}

impl<'a> Room<'a> {
    /// Reserves `size` bytes at the end of `out`.
    #[inline(always)]
    pub(super) fn reserve(out: &'a mut Vec<u8>, size: usize) -> Room<'a> {
        out.reserve(size);
        Room {
            out,
            filled: 0,
            size,
        }
    }

    /// Writes `bytes` next.
    #[inline(always)]
    pub(super) fn put(&mut self, bytes: &[u8]) {
        let count = bytes.len();
        assert!(
            count <= self.size - self.filled,
            "more written than reserved"
        );
        // SAFETY: `reserve` left room for `size` bytes after the vector's length, of which
        // `filled` are written: the `count` bytes at `len + filled` are within it (checked
        // just above), and `bytes` cannot overlap the vector, which is borrowed mutably.
        unsafe {
            let target = self.out.as_mut_ptr().add(self.out.len() + self.filled);
            if count <= 32 {
                copy_short(bytes.as_ptr(), target, count);
            } else {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), target, count);
            }
        }
        self.filled += count;
    }

    /// Writes one byte next.
    #[inline(always)]
    pub(super) fn byte(&mut self, byte: u8) {
        assert!(self.filled < self.size, "more written than reserved");
        // SAFETY: as in `put`, for one byte.
        unsafe {
            *self.out.as_mut_ptr().add(self.out.len() + self.filled) = byte;
        }
        self.filled += 1;
    }

    /// Writes a base-128 varint next.
    #[inline(always)]
    pub(super) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        let len = self.out.len() + self.filled;
        // SAFETY: the `filled` bytes after the old length were all written, front to back,
        // within the reserved room.
        unsafe { self.out.set_len(len) }
    }
}

/// A vector written through a cursor kept apart from it: the length, the start and the
/// capacity are locals of the writer (registers, once inlined), and the vector hears of the
/// length only when the cursor is dropped or lends it out. Every `Vec::push` and
/// `extend_from_slice` loads and stores the vector's length and checks its capacity through
/// memory; for the Zipkin JSON encoder that was a quarter of its instructions, about 470 per
/// span (callgrind, `report encode-profile zipkin_json`, `alloc/src/vec` and `raw_vec` lines).
///
/// A writer asks for room ([`Cursor::room`]) for a group of pieces whose size it bounds, one
/// compare on registers that grows the vector when it must (a cold call), stores the pieces
/// within that room and counts what it wrote ([`Cursor::advance`]).
pub(super) struct Cursor<'a> {
    out: &'a mut Vec<u8>,
    /// `out.as_mut_ptr()`, reloaded whenever the vector may have moved.
    start: *mut u8,
    /// `out.capacity()`, likewise.
    capacity: usize,
    /// Bytes written and initialized from `start` on; the vector's own length lags behind.
    len: usize,
    /// The vector is lent out ([`Cursor::with_vec`]): its own length is the truth meanwhile,
    /// so a panic in the borrower must not set it back to `len` (the borrower may have moved
    /// or shrunk the buffer).
    lent: bool,
}

impl<'a> Cursor<'a> {
    /// A cursor at the end of `out`.
    #[inline(always)]
    pub(super) fn new(out: &'a mut Vec<u8>) -> Cursor<'a> {
        Cursor {
            start: out.as_mut_ptr(),
            capacity: out.capacity(),
            len: out.len(),
            lent: false,
            out,
        }
    }

    /// The length written so far.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Forgets what was written after `len` (at most the length written so far).
    #[inline(always)]
    pub(super) fn truncate(&mut self, len: usize) {
        assert!(len <= self.len, "a cursor only goes back");
        self.len = len;
    }

    /// Makes room for `count` more bytes.
    #[inline(always)]
    pub(super) fn reserve(&mut self, count: usize) {
        if self.capacity - self.len < count {
            self.grow(count);
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, count: usize) {
        self.sync();
        self.out.reserve(count);
        self.start = self.out.as_mut_ptr();
        self.capacity = self.out.capacity();
    }

    /// Tells the vector its length.
    #[inline(always)]
    fn sync(&mut self) {
        // SAFETY: `len` is at most the capacity (every write made room first), and the bytes
        // before it are initialized: those the vector had, then the ones written through this
        // cursor, front to back without gaps.
        unsafe { self.out.set_len(self.len) }
    }

    /// Lends the vector, at the length written, to code that appends to it the usual way (the
    /// rare, careful paths).
    #[inline(always)]
    pub(super) fn with_vec(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.sync();
        self.lent = true;
        write(self.out);
        self.lent = false;
        self.start = self.out.as_mut_ptr();
        self.capacity = self.out.capacity();
        self.len = self.out.len();
    }

    /// Makes room for `room` bytes and says where the next byte goes: a writer stores up to
    /// `room` bytes from there, then counts them written with [`Cursor::advance`]. (A closure
    /// given the place was not inlined, and cost more than the vector's own checks.)
    #[inline(always)]
    pub(super) fn room(&mut self, room: usize) -> *mut u8 {
        self.reserve(room);
        // SAFETY: `len` is at most the capacity, so the pointer is within the allocation or
        // one past its end.
        unsafe { self.start.add(self.len) }
    }

    /// Writes one byte.
    #[inline(always)]
    pub(super) fn put_byte(&mut self, byte: u8) {
        let target = self.room(1);
        // SAFETY: the room holds the byte.
        unsafe {
            *target = byte;
            self.advance(1);
        }
    }

    /// Counts the next `count` bytes as written.
    ///
    /// # Safety
    /// The `count` bytes after the length written so far must be within the room made by the
    /// last [`Cursor::room`] and written, every one of them.
    #[inline(always)]
    pub(super) unsafe fn advance(&mut self, count: usize) {
        debug_assert!(
            self.len + count <= self.capacity,
            "written past the room made"
        );
        self.len += count;
    }
}

impl Drop for Cursor<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if !self.lent {
            self.sync();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cursor, Room};

    #[test]
    fn every_length_is_copied_exactly() {
        let source: Vec<u8> = (0..70).collect();
        for count in 0..=source.len() {
            let mut out = vec![0xee; 3];
            Room::reserve(&mut out, count).put(&source[..count]);
            assert_eq!(out[..3], [0xee; 3]);
            assert_eq!(out[3..], source[..count], "{count} bytes");
        }
    }

    #[test]
    fn room_counts_what_was_written() {
        let mut out = b"x".to_vec();
        {
            let mut room = Room::reserve(&mut out, 23);
            room.byte(1);
            room.varint(300);
            room.put(b"0123456789abcdefghi");
        }
        assert_eq!(out, b"x\x01\xac\x020123456789abcdefghi");
    }

    #[test]
    #[should_panic(expected = "more written than reserved")]
    fn writing_past_the_room_panics_instead() {
        let mut out = Vec::new();
        let mut room = Room::reserve(&mut out, 2);
        room.put(b"abc");
    }

    #[test]
    fn a_cursor_writes_pieces_of_every_size_and_grows_as_needed() {
        let source: Vec<u8> = (0..100).collect();
        let mut out = b"head".to_vec();
        out.shrink_to_fit();
        let mut expected = out.clone();
        {
            let mut cursor = Cursor::new(&mut out);
            for count in 0..=source.len() {
                let target = cursor.room(count + 1);
                // SAFETY: the room holds the `count` bytes copied and the one after them.
                unsafe {
                    super::copy_bytes(&source[..count], target);
                    *target.add(count) = b'|';
                    cursor.advance(count + 1);
                }
                expected.extend_from_slice(&source[..count]);
                expected.push(b'|');
            }
            let mark = cursor.len();
            cursor.with_vec(|out| out.extend_from_slice(b"dropped"));
            cursor.truncate(mark);
            cursor.with_vec(|out| out.extend_from_slice(b"lent"));
            expected.extend_from_slice(b"lent");
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn reserving_grows_the_buffer_when_full() {
        let mut out = Vec::with_capacity(1);
        for _ in 0..100 {
            Room::reserve(&mut out, 10).put(b"0123456789");
        }
        assert_eq!(out.len(), 1000);
        assert!(out.chunks(10).all(|chunk| chunk == b"0123456789"));
    }
}
