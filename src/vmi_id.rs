//! VMI IDs: the deterministic names of images and items, as VM Operator computes them.
//!
//! `vmi-` + the first 17 hex characters of SHA-1 of the item UUID with hyphens removed.

use sha1::{Digest, Sha1};

/// Prefix of image names.
pub const IMAGE_PREFIX: &str = "vmi-";
/// Prefix of content library item resource names.
pub const ITEM_PREFIX: &str = "clitem-";
const HASH_CHARS: usize = 17;

/// Why a string is not an item UUID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{input:?} is not a content library item UUID (expected 32 hex digits, optionally hyphenated like e1968c25-dd84-4506-8dc7-9beacb6b688e)"
)]
pub struct InvalidUuid {
    pub input: String,
}

/// The 17 hex characters that both the image and the item name are made of.
pub fn id_hash(uuid: &str) -> Result<String, InvalidUuid> {
    let compact: String = uuid.chars().filter(|c| *c != '-').collect();
    let well_formed = compact.len() == 32
        && compact.chars().all(|c| c.is_ascii_hexdigit())
        && is_uuid_layout(uuid);
    if !well_formed {
        return Err(InvalidUuid {
            input: uuid.to_string(),
        });
    }
    // VM Operator hashes the UUID as vSphere prints it (lower case); accept upper case input by
    // normalising it first so both spellings name the same image.
    let digest = Sha1::digest(compact.to_ascii_lowercase().as_bytes());
    Ok(hex::encode(digest)[..HASH_CHARS].to_string())
}

/// Hyphens, when present, must be at the UUID positions (8-4-4-4-12).
fn is_uuid_layout(uuid: &str) -> bool {
    if !uuid.contains('-') {
        return true;
    }
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12]
}

/// The image name (VMI ID) of an item UUID: `vmi-0a0044d7c690bcbea`.
pub fn vmi_id(uuid: &str) -> Result<String, InvalidUuid> {
    Ok(format!("{IMAGE_PREFIX}{}", id_hash(uuid)?))
}

/// The item resource name of an item UUID: `clitem-0a0044d7c690bcbea`.
pub fn item_name(uuid: &str) -> Result<String, InvalidUuid> {
    Ok(format!("{ITEM_PREFIX}{}", id_hash(uuid)?))
}

/// Whether a name has the shape of a VMI ID (used to tell IDs from display names).
pub fn looks_like_vmi_id(name: &str) -> bool {
    name.strip_prefix(IMAGE_PREFIX).is_some_and(|h| {
        h.len() == HASH_CHARS
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_vector() {
        assert_eq!(
            vmi_id("e1968c25-dd84-4506-8dc7-9beacb6b688e").unwrap(),
            "vmi-0a0044d7c690bcbea"
        );
        assert_eq!(
            item_name("e1968c25-dd84-4506-8dc7-9beacb6b688e").unwrap(),
            "clitem-0a0044d7c690bcbea"
        );
    }

    #[test]
    fn hyphens_and_case_do_not_matter() {
        let a = vmi_id("e1968c25-dd84-4506-8dc7-9beacb6b688e").unwrap();
        assert_eq!(vmi_id("e1968c25dd8445068dc79beacb6b688e").unwrap(), a);
        assert_eq!(vmi_id("E1968C25-DD84-4506-8DC7-9BEACB6B688E").unwrap(), a);
    }

    #[test]
    fn malformed_uuids_are_refused() {
        for bad in [
            "",
            "xyz",
            "e1968c25-dd84-4506-8dc7-9beacb6b688",
            "e1968c25-dd84-4506-8dc7-9beacb6b688g",
            "e1968c25dd84-4506-8dc7-9beacb6b688e-",
            "e1968c2-5dd84-4506-8dc7-9beacb6b688e",
        ] {
            assert!(vmi_id(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn ids_are_valid_kubernetes_names(bytes in proptest::array::uniform16(any::<u8>())) {
            let hexed = hex::encode(bytes);
            let uuid = format!("{}-{}-{}-{}-{}", &hexed[..8], &hexed[8..12], &hexed[12..16], &hexed[16..20], &hexed[20..]);
            let id = vmi_id(&uuid).unwrap();
            prop_assert_eq!(id.len(), 21);
            prop_assert!(looks_like_vmi_id(&id));
            prop_assert_eq!(&id[4..], &item_name(&uuid).unwrap()[7..]);
            // Same digest as hashing the compact form directly.
            let direct = hex::encode(Sha1::digest(hexed.as_bytes()));
            prop_assert_eq!(&id[4..], &direct[..17]);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".*") {
            let _ = vmi_id(&s);
        }
    }
}
