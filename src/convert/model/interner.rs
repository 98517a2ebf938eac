//! Distinct strings, numbered: the product and event names of a conversion.
//!
//! Convert stage, part of the model; reads and writes no table. Invariant: a string is
//! numbered once, in order of first appearance, from 0, so a number indexes `get`.

// polars' own fast hash maps: no new dependency, and the hot loops hash millions of keys.
use polars::prelude::PlHashMap as HashMap;

/// Distinct strings, numbered in order of first appearance.
#[derive(Default)]
pub struct Interner {
    map: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(i) = self.map.get(s) {
            return *i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.map.insert(s.into(), i);
        i
    }

    pub fn get(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
