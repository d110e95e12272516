//! Appending short pieces to an encoder's output.
//!
//! Why by hand: the encoders append two or three dozen pieces per span (keys, ids, names, tag
//! values), most of them under 32 bytes. `Vec::extend_from_slice` copies a piece of unknown
//! length through a call to `memcpy`, which was 7–9% of the OTLP protobuf and Zipkin JSON
//! encoders' instructions (callgrind, `report encode` in `benches/`); two overlapping word
//! copies do it inline ([`copy_short`]), and a writer that knows its size reserves it once
//! ([`Room`]).

/// Appends `bytes` to `out`, as `extend_from_slice` does, without a call to `memcpy` up to 64
/// bytes (a pre-encoded member such as the Zipkin local endpoint).
#[inline(always)]
pub(super) fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    let count = bytes.len();
    if count > 64 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(count);
    let len = out.len();
    // SAFETY: `reserve` left room for `count` bytes after `len`. `copy_short` copies at most 32
    // bytes from a valid source to valid room; for 33 to 64 bytes, the first 32 and the last 32
    // (overlapping) are copied the same way. `bytes` cannot overlap the vector, borrowed
    // mutably. All `count` bytes are then written, so the length may cover them.
    unsafe {
        let target = out.as_mut_ptr().add(len);
        if count <= 32 {
            copy_short(bytes.as_ptr(), target, count);
        } else {
            copy_short(bytes.as_ptr(), target, 32);
            copy_short(bytes.as_ptr().add(count - 32), target.add(count - 32), 32);
        }
        out.set_len(len + count);
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

#[cfg(test)]
mod tests {
    use super::Room;

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
    fn appending_copies_every_length_exactly() {
        let source: Vec<u8> = (0..100).collect();
        for count in 0..=source.len() {
            let mut out = vec![0xee; 5];
            super::append(&mut out, &source[..count]);
            assert_eq!(out[..5], [0xee; 5]);
            assert_eq!(out[5..], source[..count], "{count} bytes");
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
    fn reserving_grows_the_buffer_when_full() {
        let mut out = Vec::with_capacity(1);
        for _ in 0..100 {
            Room::reserve(&mut out, 10).put(b"0123456789");
        }
        assert_eq!(out.len(), 1000);
        assert!(out.chunks(10).all(|chunk| chunk == b"0123456789"));
    }
}
