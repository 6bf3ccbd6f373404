//! `VPath`: the one place where a user-supplied path becomes a list of names.
//!
//! Owns parsing, lexical normalisation (`.`, `..`, repeated `/`) and validation (UTF-8, no NUL,
//! Linux name and path length limits). It knows nothing about the tree: whether a name exists,
//! is a directory or a symlink is decided by `tree`. Invariants of a `VPath`:
//! - `names` never contains `""`, `"."` or `".."`; `..` never climbs above `/`.
//! - `must_be_dir` is set when the text ended with `/`, `/.` or `/..` (Linux then requires the
//!   target to be a directory, or answers `ENOTDIR`/`EISDIR`).

use std::fmt;
use std::io;
use std::path::Path;

use compact_str::CompactString;

use crate::error;

/// A single path component (a file or directory name): the directory maps' key.
///
/// Small names (up to 24 bytes) are stored inline, so cloning one costs no atomic operation
/// and no allocation. The first 8 bytes are also kept as a big-endian `u64`, so that most
/// comparisons in a directory lookup are one integer comparison instead of a `memcmp` (the
/// comparisons were a quarter of all instructions of small-file workloads). The order is
/// exactly the byte order of the names (`str`'s), which `Borrow<str>` requires.
#[derive(Clone, Default)]
pub struct Name {
    prefix: u64,
    text: CompactString,
}

impl Name {
    /// A name from its text (not validated: `VPath` does that).
    pub fn new(text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        Name {
            prefix: prefix_of(text.as_bytes()),
            text: CompactString::new(text),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// A borrowed name to look `text` up with, in the same order and without building a
    /// `Name` (no copy of the text).
    pub(crate) fn key(text: &[u8]) -> NameKey<'_> {
        NameKey {
            prefix: prefix_of(text),
            text,
        }
    }
}

/// A name's first 8 bytes as a big-endian integer, zero-padded: a fixed-size load for a name
/// of 8 bytes or more, bytes one by one for a shorter one (not a `memcpy` call).
#[inline]
fn prefix_of(bytes: &[u8]) -> u64 {
    match bytes.first_chunk::<8>() {
        Some(head) => u64::from_be_bytes(*head),
        None => bytes
            .iter()
            .enumerate()
            .fold(0, |p, (i, &b)| p | u64::from(b) << (56 - 8 * i)),
    }
}

/// The byte order of two names from their prefixes and texts. Zero padding keeps the prefix
/// order the byte order, because names hold no NUL: a name that is a prefix of another has an
/// equal padded prefix, and the full comparison decides. The texts are asked for only then
/// (a `CompactString`'s text costs a branch on its length, which most comparisons skip).
#[inline(always)]
fn compare<'t>(
    pa: u64,
    pb: u64,
    texts: impl FnOnce() -> (&'t [u8], &'t [u8]),
) -> std::cmp::Ordering {
    match pa.cmp(&pb) {
        std::cmp::Ordering::Equal => {
            let (a, b) = texts();
            a.cmp(b)
        }
        unequal => unequal,
    }
}

/// A name borrowed for a lookup ([`Name::key`]): ordered and compared as the `Name` of the
/// same text (`equivalent::Comparable`, which `imbl`'s maps look up with).
#[derive(Clone, Copy)]
pub(crate) struct NameKey<'a> {
    prefix: u64,
    /// The name's bytes: a name to look up need not be known to be UTF-8, since a name that
    /// is not can only be missing (every stored name is text).
    text: &'a [u8],
}

impl equivalent::Equivalent<Name> for NameKey<'_> {
    #[inline]
    fn equivalent(&self, name: &Name) -> bool {
        self.prefix == name.prefix && self.text == name.as_str().as_bytes()
    }
}

impl equivalent::Comparable<Name> for NameKey<'_> {
    #[inline]
    fn compare(&self, name: &Name) -> std::cmp::Ordering {
        compare(self.prefix, name.prefix, || {
            (self.text, name.as_str().as_bytes())
        })
    }
}

impl Ord for Name {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        compare(self.prefix, other.prefix, || {
            (self.as_str().as_bytes(), other.as_str().as_bytes())
        })
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix && self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, for `Borrow<str>`.
        self.as_str().hash(state)
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<Path> for Name {
    fn as_ref(&self) -> &Path {
        Path::new(self.as_str())
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name::new(s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.as_str().to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Longest allowed name, in bytes (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Longest allowed path, in bytes (Linux `PATH_MAX`, including the terminating NUL).
pub const PATH_MAX: usize = 4096;

/// The names of a path: up to four inline, so parsing a typical path allocates nothing for
/// its list (the list's allocation and free were a sixth of a small write's parse and a
/// tenth of its allocations, BENCHMARKS.md).
type Names = smallvec::SmallVec<[Name; 4]>;

/// A parsed, normalised, absolute virtual path.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct VPath {
    names: Names,
    must_be_dir: bool,
}

impl VPath {
    /// The root directory `/`.
    pub fn root() -> Self {
        VPath::default()
    }

    /// Parses and normalises `p`. Relative paths resolve against `/`.
    ///
    /// Errors (`InvalidInput`): empty path, NUL byte, non-UTF-8. A name longer than 255 bytes or a
    /// path longer than 4095 bytes gives `InvalidFilename` (Linux `ENAMETOOLONG`).
    pub fn parse(p: impl AsRef<Path>) -> io::Result<Self> {
        let p = p.as_ref();
        let text = p.to_str().ok_or_else(|| {
            error::invalid_input(format!("path is not valid UTF-8: {}", p.display()))
        })?;
        Self::parse_str(text)
    }

    /// Same as [`VPath::parse`] for a `&str`.
    pub fn parse_str(text: &str) -> io::Result<Self> {
        if text.len() >= PATH_MAX {
            return Err(error::name_too_long(format!(
                "path is longer than {} bytes",
                PATH_MAX - 1
            )));
        }
        Self::parse_any_length(text)
    }

    /// [`VPath::parse_str`] without the limit on the whole path's length, for paths the
    /// engine makes itself from names it holds: a node of a mount can be deeper than `PATH_MAX`
    /// bytes below the mount point (a process that changed its directory on the way down
    /// reaches it; the kernel limits what one call passes, not where a node is).
    pub(crate) fn parse_any_length(text: &str) -> io::Result<Self> {
        if text.is_empty() {
            return Err(error::invalid_input("empty path"));
        }
        let bytes = text.as_bytes();
        let mut names = Names::new();
        let mut last_was_dot = false;
        // One loop over the bytes that also finds a NUL, rather than `str::split` and a
        // separate scan, whose searchers cost more than the rest of the parse for the short
        // components of typical paths (callgrind, BENCHMARKS.md). `/` is ASCII, so every
        // component boundary is a char boundary.
        let mut start = 0;
        while start <= bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b'/' || b == 0)
                .map_or(bytes.len(), |i| start + i);
            if bytes.get(end) == Some(&0) {
                return Err(error::invalid_input(format!(
                    "path contains a NUL byte: {:?}",
                    text
                )));
            }
            let part = &text[start..end];
            start = end + 1;
            last_was_dot = false;
            match part.as_bytes() {
                b"" => {}
                b"." => last_was_dot = true,
                b".." => {
                    names.pop();
                    last_was_dot = true;
                }
                _ => {
                    if part.len() > NAME_MAX {
                        return Err(error::name_too_long(format!(
                            "file name is longer than {NAME_MAX} bytes: {}...",
                            &part[..part.floor_char_boundary_compat(40)]
                        )));
                    }
                    names.push(Name::new(part));
                }
            }
        }
        let must_be_dir = last_was_dot || text.ends_with('/');
        Ok(VPath { names, must_be_dir })
    }

    /// Builds a path from names that are already valid (used internally, e.g. by walk).
    pub(crate) fn from_names(names: impl Into<Names>) -> Self {
        VPath {
            names: names.into(),
            must_be_dir: false,
        }
    }

    /// The names from the root down; empty for `/`.
    pub fn names(&self) -> &[Name] {
        &self.names
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether the text ended with `/` (or `/.`, `/..`): the target must be a directory.
    pub fn must_be_dir(&self) -> bool {
        self.must_be_dir
    }

    /// The last name, `None` for `/`.
    pub fn file_name(&self) -> Option<&str> {
        self.names.last().map(|n| n.as_str())
    }

    /// The parent path (`/` for `/`).
    pub fn parent(&self) -> VPath {
        let mut names = self.names.clone();
        names.pop();
        VPath::from_names(names)
    }

    /// This path with `name` appended.
    pub fn join(&self, name: &str) -> VPath {
        let mut names = self.names.clone();
        names.push(Name::new(name));
        VPath::from_names(names)
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &VPath) -> bool {
        self.names.len() >= other.names.len() && self.names[..other.names.len()] == other.names[..]
    }

    /// The canonical text form: `/` or `/a/b`.
    pub fn as_string(&self) -> String {
        join_names(&self.names)
    }
}

/// `p`'s bytes if it may be a *plain* path: absolute, not `/`, shorter than `PATH_MAX`. A
/// plain path also has no empty, `.` or `..` component, no trailing `/` and no name longer
/// than `NAME_MAX`, which [`plain_component`] checks one component at a time (the read path's
/// fast lane walks the tree while it checks), and is valid UTF-8 without NUL ([`plain_text`]),
/// which the lane checks only where its walk did not find a node: a path whose every name
/// matched a stored name is text without NUL, because every stored name is. A plain path
/// parses to exactly its own components and its canonical text is itself, so the fast lane
/// needs no [`VPath`]; anything else goes through [`VPath::parse`] (which gives the errors).
#[inline]
pub(crate) fn plain(p: &Path) -> Option<&[u8]> {
    let bytes = p.as_os_str().as_encoded_bytes();
    if bytes.len() < 2 || bytes.len() >= PATH_MAX || bytes[0] != b'/' {
        return None;
    }
    Some(bytes)
}

/// A path [`plain`] accepted as text, if it is valid UTF-8 without NUL (else it is no plain
/// path, and only [`VPath::parse`] gives its error).
pub(crate) fn plain_text(path: &[u8]) -> Option<&str> {
    if path.contains(&0) {
        return None;
    }
    std::str::from_utf8(path).ok()
}

/// Whether `name`, a component of a path [`plain`] accepted, keeps it plain: not empty, not
/// `.` or `..`, at most `NAME_MAX` bytes.
#[inline]
pub(crate) fn plain_component(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= NAME_MAX && name != b"." && name != b".."
}

/// Whether every component of `rest` (the part of a path [`plain`] accepted after a `/`)
/// keeps the path plain.
pub(crate) fn plain_rest(rest: &[u8]) -> bool {
    rest.split(|&b| b == b'/').all(plain_component)
}

/// `/a/b` from `["a", "b"]`; `/` from `[]`.
pub(crate) fn join_names(names: &[Name]) -> String {
    if names.is_empty() {
        return "/".to_string();
    }
    let mut s = String::with_capacity(names.iter().map(|n| n.len() + 1).sum());
    for n in names {
        s.push('/');
        s.push_str(n);
    }
    s
}

/// Whether the absolute, normalised `path` is `prefix` or lies below it (`/a/b` is below `/a`,
/// `/ab` is not; everything is below `/`).
pub fn at_or_below(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// `parent + "/" + name` for canonical text paths.
pub(crate) fn join_str(parent: &str, name: &str) -> String {
    // (Not `format!`: this runs once per entry of read_dir and walk.)
    let parent = if parent == "/" { "" } else { parent };
    let mut s = String::with_capacity(parent.len() + 1 + name.len());
    s.push_str(parent);
    s.push('/');
    s.push_str(name);
    s
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl fmt::Debug for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VPath({})", self.as_string())
    }
}

/// `str::floor_char_boundary` is unstable; this is the same for our one use.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        if i >= self.len() {
            return self.len();
        }
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn at_or_below_respects_component_boundaries() {
        assert!(at_or_below("/", "/anything"));
        assert!(at_or_below("/a", "/a"));
        assert!(at_or_below("/a", "/a/b/c"));
        assert!(!at_or_below("/a", "/ab"));
        assert!(!at_or_below("/a/b", "/a"));
    }

    use super::*;

    fn norm(p: &str) -> String {
        VPath::parse_str(p).unwrap().as_string()
    }

    #[test]
    fn normalises_dots_and_slashes() {
        assert_eq!(norm("/"), "/");
        assert_eq!(norm("a/b"), "/a/b");
        assert_eq!(norm("/a//b///c"), "/a/b/c");
        assert_eq!(norm("/a/./b/."), "/a/b");
        assert_eq!(norm("/a/b/../c"), "/a/c");
        assert_eq!(norm("/../../a"), "/a");
        assert_eq!(norm("a/../.."), "/");
        assert_eq!(norm("."), "/");
        assert_eq!(norm("//"), "/");
        // More names than the list keeps inline.
        assert_eq!(norm("/a/b/c/d/e/../f/g"), "/a/b/c/d/f/g");
        let deep = VPath::parse_str("/a/b/c/d/e/f").unwrap();
        assert_eq!(deep.names().len(), 6);
        assert_eq!(deep.parent().join("x").as_string(), "/a/b/c/d/e/x");
    }

    #[test]
    fn trailing_slash_means_directory() {
        assert!(VPath::parse_str("/a/").unwrap().must_be_dir());
        assert!(VPath::parse_str("/a/.").unwrap().must_be_dir());
        assert!(VPath::parse_str("/a/b/..").unwrap().must_be_dir());
        assert!(!VPath::parse_str("/a").unwrap().must_be_dir());
        assert_eq!(norm("/a/"), "/a");
    }

    #[test]
    fn rejects_bad_input() {
        let e = VPath::parse_str("").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // A NUL anywhere: in a name, alone, after the last slash, deep in a long path.
        for bad in [
            "/a\0b",
            "\0",
            "/a/\0",
            "/a\0/b",
            "/a/b/c/d/e/f\0g",
            "/a/b/../\0",
        ] {
            let e = VPath::parse_str(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let long = "x".repeat(256);
        let e = VPath::parse_str(&format!("/{long}")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidFilename);
        let e = VPath::parse_str(&"/abc".repeat(1100)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidFilename);
        assert!(VPath::parse_str(&format!("/{}", "x".repeat(255))).is_ok());
    }

    #[test]
    fn non_utf8_is_invalid_input() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(OsStr::from_bytes(b"/a\xffb"));
        assert_eq!(
            VPath::parse(p).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    /// The parse as it was written first (`str::split`, a separate NUL scan): the model the
    /// byte loop of `parse_any_length` must agree with.
    fn model_parse(text: &str) -> Result<(Vec<String>, bool), io::ErrorKind> {
        if text.is_empty() || text.contains('\0') {
            return Err(io::ErrorKind::InvalidInput);
        }
        let mut names: Vec<String> = Vec::new();
        let mut last_was_dot = false;
        for part in text.split('/') {
            last_was_dot = false;
            match part {
                "" => {}
                "." => last_was_dot = true,
                ".." => {
                    names.pop();
                    last_was_dot = true;
                }
                name if name.len() > NAME_MAX => return Err(io::ErrorKind::InvalidFilename),
                name => names.push(name.to_string()),
            }
        }
        Ok((names, last_was_dot || text.ends_with('/')))
    }

    proptest::proptest! {
        #[test]
        fn parse_agrees_with_the_split_model(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(String::from("")),
                    proptest::strategy::Just(String::from(".")),
                    proptest::strategy::Just(String::from("..")),
                    proptest::strategy::Just(String::from("\0")),
                    proptest::strategy::Just("x".repeat(256)),
                    "[a-z\u{e9}.\0]{1,12}",
                ],
                0..9,
            ),
            lead in proptest::bool::ANY,
            trail in proptest::bool::ANY,
        ) {
            let mut text = parts.join("/");
            if lead {
                text.insert(0, '/');
            }
            if trail {
                text.push('/');
            }
            // A NUL in a too-long name may be reported as either error: the model scans for
            // NUL first, the loop meets the name first. Both are errors a caller gets.
            let got = VPath::parse_any_length(&text).map(|v| {
                let names = v.names().iter().map(|n| n.to_string()).collect::<Vec<_>>();
                (names, v.must_be_dir())
            });
            match (got, model_parse(&text)) {
                (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
                (Err(e), Err(k)) if text.contains('\0') => {
                    proptest::prop_assert!(
                        matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidFilename),
                        "{:?}: {:?} (model {:?})", text, e, k
                    );
                }
                (Err(e), Err(k)) => proptest::prop_assert_eq!(e.kind(), k),
                (a, b) => proptest::prop_assert!(false, "{:?}: {:?} vs model {:?}", text, a.map(drop), b),
            }
        }
    }

    #[test]
    fn name_order_is_byte_order() {
        let words = [
            "",
            "a",
            "a0",
            "ab",
            "abcdefgh",
            "abcdefgh0",
            "abcdefghi",
            "abcdefgi",
            "b",
            "z",
            "\u{e9}t\u{e9}",
            "\u{ff}",
            "abcdefghijklmnopqrstuvwxyz0123456789",
        ];
        for x in words {
            for y in words {
                let (nx, ny) = (Name::new(x), Name::new(y));
                assert_eq!(nx.cmp(&ny), x.cmp(y), "{x:?} vs {y:?}");
                assert_eq!(nx == ny, x == y);
                // The borrowed key a lookup uses orders and matches as the name does.
                use equivalent::{Comparable, Equivalent};
                let kx = Name::key(x.as_bytes());
                assert_eq!(kx.compare(&ny), x.cmp(y), "key {x:?} vs {y:?}");
                assert_eq!(kx.equivalent(&ny), x == y);
            }
        }
    }

    #[test]
    fn plain_paths_are_their_own_canonical_form() {
        let long = format!("/{}", "x".repeat(255));
        let too_long = format!("/{}", "x".repeat(256));
        let cases = [
            "/a", "/a/b", "/a/b.c", "/.a", "/a/..b", "/...", "/a.", "/é/ü", &long, "/", "", "a",
            "a/b", "//a", "/a//b", "/a/", "/a/.", "/a/..", "/./a", "/../a", "/a/./b", "/a\0b",
            &too_long, "/.", "/..",
        ];
        for text in cases {
            let parsed = VPath::parse_str(text);
            let whole = plain(Path::new(text))
                .filter(|t| plain_rest(&t[1..]))
                .and_then(plain_text);
            match whole {
                Some(t) => {
                    assert_eq!(t, text);
                    let v = parsed.unwrap();
                    assert_eq!(v.as_string(), text, "{text:?}");
                    assert!(!v.must_be_dir());
                    assert!(!v.is_root());
                }
                None => assert!(
                    parsed.is_err()
                        || parsed.unwrap().as_string() != text
                        || matches!(text, "/" | "/a/" | "/a/." | "/a/.." | "/." | "/.."),
                    "{text:?} is plain"
                ),
            }
        }
        assert_eq!(plain(Path::new(&"/abc".repeat(1100))), None);
    }

    #[test]
    fn helpers() {
        let p = VPath::parse_str("/a/b/c").unwrap();
        assert_eq!(p.file_name(), Some("c"));
        assert_eq!(p.parent().as_string(), "/a/b");
        assert!(p.starts_with(&VPath::parse_str("/a").unwrap()));
        assert!(!VPath::parse_str("/ab")
            .unwrap()
            .starts_with(&VPath::parse_str("/a").unwrap()));
        assert_eq!(VPath::root().join("x").as_string(), "/x");
        assert_eq!(join_str("/", "x"), "/x");
        assert_eq!(join_str("/a", "x"), "/a/x");
    }
}
