//! String enums read leniently: VMware's schemas declare these fields plain strings, and its
//! components write other spellings (`efi` for `EFI`), so a value is matched without regard to
//! case and an unknown one is kept as written instead of failing the whole object.

/// `lenient_enum!(Name { Variant = "TEXT", .. })`: an enum with those variants and
/// `Other(String)`, (de)serialized as a string, with a plain-string schema.
macro_rules! lenient_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this operator does not know, kept as written.
            Other(String),
        }

        impl $name {
            /// The canonical spelling (an unknown value as written).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(other) => other,
                }
            }

            /// The variant `text` names, in any case.
            pub fn parse(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) {
                    return Self::$variant;
                })+
                Self::Other(text.to_string())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok(Self::parse(&text))
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                "String".into()
            }
            fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                <String as ::schemars::JsonSchema>::json_schema(generator)
            }
            fn inline_schema() -> bool {
                true
            }
        }
    };
}

pub(crate) use lenient_enum;

#[cfg(test)]
mod tests {
    use crate::api::Firmware;

    #[test]
    fn any_case_reads_and_the_seed_spelling_is_written() {
        for text in ["efi", "EFI", "Efi"] {
            let firmware: Firmware = serde_json::from_value(text.into()).unwrap();
            assert_eq!(firmware, Firmware::Efi);
        }
        assert_eq!(serde_json::to_value(Firmware::Bios).unwrap(), "BIOS");
        let other: Firmware = serde_json::from_value("efi-secure".into()).unwrap();
        assert_eq!(other, Firmware::Other("efi-secure".into()));
        assert_eq!(serde_json::to_value(other).unwrap(), "efi-secure");
    }
}
