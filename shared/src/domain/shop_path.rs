//! Materialised shop paths: `/1/5/12/` is shop 12 under 5 under 1.
//!
//! Every shop-owned item carries its owner's path, so "this shop and all its
//! descendants" is one `begins_with(path)` key condition. The trailing slash keeps
//! `/1/5/` from matching `/1/50/`.

use serde::{Deserialize, Serialize};

/// Maximum depth of the shop tree (`MaxShopLevel`).
pub const MAX_SHOP_LEVEL: u8 = 7;

/// A validated materialised path of a shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShopPath(String);

impl ShopPath {
    /// Path of a level-1 shop.
    pub fn top(id: u64) -> Self {
        Self(format!("/{id}/"))
    }

    /// Path of a child of this shop.
    pub fn child(&self, id: u64) -> Self {
        Self(format!("{}{id}/", self.0))
    }

    /// Depth of the shop this path names (1 for a level-1 shop).
    pub fn level(&self) -> u8 {
        (self.0.matches('/').count() - 1) as u8
    }

    /// Ids along the path from the top-level ancestor down to the shop itself.
    pub fn ids(&self) -> Vec<u64> {
        self.0
            .split('/')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// The shop id this path names.
    pub fn shop_id(&self) -> u64 {
        // Every constructor and the parser give a path at least one id; an empty
        // one would answer 0, which names no shop.
        self.ids().last().copied().unwrap_or_default()
    }

    /// True when `other` is this shop or one of its descendants.
    pub fn contains(&self, other: &ShopPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The path as a key prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShopPath {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let ok = s.len() >= 3
            && s.starts_with('/')
            && s.ends_with('/')
            && s[1..s.len() - 1]
                .split('/')
                .all(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Self(s))
        } else {
            Err(format!("invalid shop path {s:?}"))
        }
    }
}

crate::wire_schema!(
    ShopPath,
    string(
        "^(/[0-9]+)+/$",
        "Materialised path of a shop: its ancestors' ids and its own, e.g. /1/5/"
    )
);

impl From<ShopPath> for String {
    fn from(p: ShopPath) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_levels_and_ids() {
        let p = ShopPath::top(1).child(5).child(12);
        assert_eq!(p.as_str(), "/1/5/12/");
        assert_eq!(p.level(), 3);
        assert_eq!(p.ids(), vec![1, 5, 12]);
        assert_eq!(p.shop_id(), 12);
    }

    #[test]
    fn containment_respects_segment_boundaries() {
        let a = ShopPath::top(1).child(5);
        assert!(a.contains(&a));
        assert!(a.contains(&a.child(9)));
        assert!(!a.contains(&ShopPath::top(1).child(50)));
        assert!(!a.contains(&ShopPath::top(1)));
        assert!(!a.child(9).contains(&a));
    }

    #[test]
    fn parses_only_valid_paths() {
        for good in ["/1/", "/1/22/333/"] {
            assert!(ShopPath::try_from(good.to_string()).is_ok(), "{good}");
        }
        for bad in ["", "/", "//", "/1", "1/", "/a/", "/1//2/"] {
            assert!(ShopPath::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
