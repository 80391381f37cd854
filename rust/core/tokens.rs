//! Tokens with generations: a slot reused for a new source gets a new
//! generation, so an event queued for the old source can never reach it.

/// A slab whose keys carry the slot's generation in their upper 32 bits.
pub struct TokenSlab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    live: usize,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Tokens at or above this value are reserved for the reactor's own sources.
pub const RESERVED_BASE: usize = usize::MAX - 16;

impl<T> Default for TokenSlab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TokenSlab<T> {
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn split(token: usize) -> (usize, u32) {
        ((token & 0xffff_ffff), (token >> 32) as u32)
    }

    pub fn insert(&mut self, value: T) -> usize {
        self.live += 1;
        if let Some(idx) = self.free.pop() {
            let slot = &mut self.slots[idx as usize];
            slot.value = Some(value);
            (idx as usize) | ((slot.generation as usize) << 32)
        } else {
            let idx = self.slots.len();
            assert!(idx < 0xffff_ffff, "token slab full");
            self.slots.push(Slot {
                generation: 1,
                value: Some(value),
            });
            idx | (1usize << 32)
        }
    }

    pub fn get(&self, token: usize) -> Option<&T> {
        let (idx, generation) = Self::split(token);
        let slot = self.slots.get(idx)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_ref()
    }

    pub fn get_mut(&mut self, token: usize) -> Option<&mut T> {
        let (idx, generation) = Self::split(token);
        let slot = self.slots.get_mut(idx)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_mut()
    }

    pub fn remove(&mut self, token: usize) -> Option<T> {
        let (idx, generation) = Self::split(token);
        let slot = self.slots.get_mut(idx)?;
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        // Skip 0 on wrap so a stale token of generation 0 never matches.
        slot.generation = slot.generation.wrapping_add(1).max(1);
        self.free.push(idx as u32);
        self.live -= 1;
        Some(value)
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.value
                .as_ref()
                .map(|v| (i | ((s.generation as usize) << 32), v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_token_misses_reused_slot() {
        let mut s = TokenSlab::new();
        let a = s.insert("a");
        assert_eq!(s.get(a), Some(&"a"));
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_ne!(a, b);
        assert_eq!(a & 0xffff_ffff, b & 0xffff_ffff);
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn tokens_stay_below_reserved_range() {
        let mut s = TokenSlab::new();
        let t = s.insert(1);
        assert!(t < RESERVED_BASE);
        assert_eq!(
            s.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
            vec![(t, 1)]
        );
    }
}
