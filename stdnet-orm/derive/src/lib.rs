//! `#[derive(Model)]` and `#[derive(FieldEnum)]` for stdnet-orm. See that crate's docs.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Ident, LitStr, Path, Type, parse_macro_input};

/// Maps a struct to a Redis hash; see the `stdnet_orm` crate docs.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Stores a unit-only enum by variant name.
#[proc_macro_derive(FieldEnum)]
pub fn derive_field_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    field_enum(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[derive(Default)]
struct ContainerAttrs {
    app: Option<LitStr>,
    name: Option<LitStr>,
    validate: Option<Path>,
}

#[derive(Default)]
struct FieldAttrs {
    pk: bool,
    index: bool,
    unique: bool,
    prefix: bool,
    json: bool,
    default: Option<Option<Expr>>,
    version: bool,
}

fn container_attrs(input: &DeriveInput) -> syn::Result<ContainerAttrs> {
    let mut attrs = ContainerAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("app") {
                attrs.app = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("name") {
                attrs.name = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.path.is_ident("validate") {
                attrs.validate = Some(meta.value()?.parse::<Path>()?);
            } else {
                return Err(
                    meta.error("expected `app = \"...\"`, `name = \"...\"` or `validate = path`")
                );
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

/// Checks an `app` or `name` label: ASCII letters, digits and `_` only, so that
/// `<app>.<name>` and the keys built from it read one way only (with a `.` in a label,
/// app `a.b` + name `c` and app `a` + name `b.c` would share every key).
fn check_label(what: &str, value: &str, span: Span) -> syn::Result<()> {
    if what == "name" && value.is_empty() {
        return Err(syn::Error::new(span, "the model `name` cannot be empty"));
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        None => Ok(()),
        Some(c) => Err(syn::Error::new(
            span,
            format!(
                "the model {what} {value:?} has {c:?}: a model's app and name may hold only \
                 ASCII letters, digits and `_` (they are joined as `app.name` into its keys, \
                 where any other character could make two models share keys)"
            ),
        )),
    }
}

/// The model's `app` and `name`: as given, or the type name in lower case.
fn labels(ident: &Ident, attrs: &ContainerAttrs) -> syn::Result<(String, String)> {
    let app = match &attrs.app {
        Some(lit) => {
            check_label("app", &lit.value(), lit.span())?;
            lit.value()
        }
        None => String::new(),
    };
    let name = match &attrs.name {
        Some(lit) => {
            check_label("name", &lit.value(), lit.span())?;
            lit.value()
        }
        None => {
            let name = ident.unraw().to_string().to_lowercase();
            check_label("name", &name, ident.span()).map_err(|e| {
                syn::Error::new(
                    ident.span(),
                    format!("{e}; name the model with #[model(name = \"...\")]"),
                )
            })?;
            name
        }
    };
    Ok((app, name))
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("pk") {
                attrs.pk = true;
            } else if meta.path.is_ident("index") {
                attrs.index = true;
            } else if meta.path.is_ident("unique") {
                attrs.unique = true;
            } else if meta.path.is_ident("prefix") {
                attrs.prefix = true;
            } else if meta.path.is_ident("json") {
                attrs.json = true;
            } else if meta.path.is_ident("version") {
                attrs.version = true;
            } else if meta.path.is_ident("default") {
                attrs.default = Some(if meta.input.peek(syn::Token![=]) {
                    let lit: LitStr = meta.value()?.parse()?;
                    Some(lit.parse::<Expr>()?)
                } else {
                    None
                });
            } else {
                return Err(meta.error(
                    "expected `pk`, `index`, `unique`, `prefix`, `json`, `version` or `default [= \"expr\"]`",
                ));
            }
            Ok(())
        })?;
    }
    if attrs.prefix && !(attrs.index || attrs.unique) {
        return Err(syn::Error::new(
            field.span(),
            "`prefix` adds prefix lookups to an index: use #[model(index, prefix)] or #[model(unique, prefix)]",
        ));
    }
    if attrs.json && (attrs.index || attrs.unique) {
        return Err(syn::Error::new(
            field.span(),
            "a #[model(json)] field cannot be indexed: index a plain field instead",
        ));
    }
    Ok(attrs)
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn model(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Model)] does not support generic structs",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(Model)] needs a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            data.fields.span(),
            "#[derive(Model)] needs a struct with named fields",
        ));
    };
    let attrs = container_attrs(input)?;
    let (app, name) = labels(ident, &attrs)?;

    let mut parsed = Vec::new();
    for f in &named.named {
        parsed.push((f, field_attrs(f)?));
    }
    let pk_index = match parsed.iter().filter(|(_, a)| a.pk).count() {
        0 => parsed
            .iter()
            .position(|(f, _)| f.ident.as_ref().is_some_and(|i| i.unraw() == "id"))
            .ok_or_else(|| {
                syn::Error::new(
                    named.span(),
                    "a model needs a primary key: a field `id: u64`, or `#[model(pk)]` on a u64 field",
                )
            })?,
        1 => parsed.iter().position(|(_, a)| a.pk).expect("counted one"),
        _ => {
            return Err(syn::Error::new(
                named.span(),
                "only one field can be #[model(pk)]",
            ));
        }
    };
    let (pk_field, pk_attrs) = &parsed[pk_index];
    if pk_attrs.index || pk_attrs.unique || pk_attrs.json {
        return Err(syn::Error::new(
            pk_field.span(),
            "the primary key is always indexed: remove index/unique/json",
        ));
    }
    if pk_attrs.default.is_some() {
        return Err(syn::Error::new(
            pk_field.span(),
            "the primary key has no default: 0 means \"not saved yet\" and the save assigns an id",
        ));
    }
    let pk_ident = pk_field.ident.clone().expect("named field");
    // A raw identifier (`r#type`) is stored under its plain name.
    let pk_name = pk_ident.unraw().to_string();
    let version = version_field(&parsed, &named.named)?;
    let pk_ty = &pk_field.ty;
    // The primary key must be a u64: this fails to compile, pointing at the field's
    // type, if it is not.
    let pk_check = quote_spanned! {pk_ty.span()=>
        const _: fn(&#ident) -> &u64 = |model| &model.#pk_ident;
    };

    let mut metas = Vec::new();
    let mut values = Vec::new();
    let mut scores = Vec::new();
    let mut decoders = Vec::new();
    let mut columns = Vec::new();
    let mut checks = Vec::new();
    let mut index: usize = 0;
    for (f, a) in parsed.iter() {
        let fident = f.ident.clone().expect("named field");
        // The stored name and the column constant drop the `r#` of a raw identifier.
        let fname = fident.unraw().to_string();
        let ty = &f.ty;
        if let Some((vident, _)) = &version
            && fident == *vident
        {
            decoders.push(version_decoder(ident, vident));
            continue;
        }
        if fident == pk_ident {
            decoders.push(quote! { #fident: id });
            let konst = format_ident!("{}", fname.to_uppercase());
            columns.push(quote! {
                #[doc = concat!("The `", #fname, "` primary key column.")]
                pub const #konst: ::stdnet_orm::Column<#ident, u64, ::stdnet_orm::Unique> =
                    ::stdnet_orm::Column::new(#fname);
            });
            continue;
        }
        let nullable = is_option(ty);
        let index_kind = if a.unique {
            quote!(::stdnet_orm::IndexKind::Unique)
        } else if a.index {
            quote!(::stdnet_orm::IndexKind::Index)
        } else {
            quote!(::stdnet_orm::IndexKind::None)
        };
        let kind = if a.json {
            quote!(::stdnet_orm::FieldKind::Other)
        } else {
            quote_spanned!(ty.span()=> <#ty as ::stdnet_orm::Field>::KIND)
        };
        let prefix = a.prefix;
        if prefix {
            // Only text has a lexicographic order to look prefixes up in.
            checks.push(quote_spanned! {ty.span()=>
                const _: () = {
                    fn prefix_needs_a_text_field<T: ::stdnet_orm::TextField>() {}
                    let _ = prefix_needs_a_text_field::<#ty>;
                };
            });
        }
        metas.push(quote! {
            ::stdnet_orm::FieldMeta { name: #fname, kind: #kind, index: #index_kind, nullable: #nullable, prefix: #prefix }
        });
        // The default's value, for a field with `#[model(default)]`.
        let default = a.default.as_ref().map(|d| match d {
            None => quote! { ::std::default::Default::default() },
            Some(expr) => quote! { #expr },
        });
        if a.json {
            values.push(quote! {
                #index => ::stdnet_orm::__private::json_to_stored(&self.#fident)
                    .map(::std::option::Option::Some)
                    .map_err(|reason| ::stdnet_orm::Error::Encode {
                        model: <#ident as ::stdnet_orm::Model>::META.label(),
                        field: #fname.to_owned(),
                        reason,
                    })
            });
            scores.push(quote! { #index => None });
        } else if let Some(default) = &default {
            // Stored at save when the value has none, so that indexes and range
            // queries see what a read returns.
            values.push(quote_spanned! {ty.span()=>
                #index => ::std::result::Result::Ok(
                    ::stdnet_orm::__private::stored_or_default(&self.#fident, || -> #ty { #default })
                )
            });
            scores.push(quote_spanned! {ty.span()=>
                #index => ::stdnet_orm::__private::score_or_default(&self.#fident, || -> #ty { #default })
            });
        } else {
            values.push(quote_spanned! {ty.span()=>
                #index => ::std::result::Result::Ok(::stdnet_orm::Field::to_stored(&self.#fident))
            });
            scores.push(
                quote_spanned! {ty.span()=> #index => ::stdnet_orm::Field::score(&self.#fident) },
            );
        }
        let read = if a.json {
            quote! { ::stdnet_orm::__private::json_from_stored::<#ty>(stored.as_deref()) }
        } else {
            quote! { <#ty as ::stdnet_orm::Field>::from_stored(stored.as_deref()) }
        };
        let fallback = match &default {
            None => quote! {},
            Some(default) => {
                quote! { if stored.is_none() { ::std::result::Result::Ok(#default) } else }
            }
        };
        decoders.push(quote! {
            #fident: {
                let stored = get(#fname);
                #fallback { #read }.map_err(|reason| ::stdnet_orm::Error::Decode {
                    model: <#ident as ::stdnet_orm::Model>::META.label(),
                    id,
                    field: #fname.to_owned(),
                    reason,
                })?
            }
        });
        let marker = if a.unique && a.prefix {
            quote!(::stdnet_orm::PrefixUnique)
        } else if a.unique {
            quote!(::stdnet_orm::Unique)
        } else if a.index && a.prefix {
            quote!(::stdnet_orm::PrefixIndexed)
        } else if a.index {
            quote!(::stdnet_orm::Indexed)
        } else {
            quote!(::stdnet_orm::Plain)
        };
        let konst = format_ident!("{}", fname.to_uppercase());
        columns.push(quote! {
            #[doc = concat!("The `", #fname, "` column.")]
            pub const #konst: ::stdnet_orm::Column<#ident, #ty, #marker> = ::stdnet_orm::Column::new(#fname);
        });
        index += 1;
    }

    let validate = attrs.validate.map(|path| {
        quote! {
            fn validate(&self) -> ::stdnet_orm::Result<()> {
                #path(self)
            }
        }
    });
    let objects_doc = format!("The query of every `{ident}`.");
    let (version_meta, version_fns) = version_items(version.as_ref());
    Ok(quote! {
        #pk_check
        #(#checks)*

        impl ::stdnet_orm::Model for #ident {
            const META: ::stdnet_orm::ModelMeta = ::stdnet_orm::ModelMeta {
                app: #app,
                name: #name,
                pk: #pk_name,
                fields: &[#(#metas),*],
                version: #version_meta,
            };

            fn pk(&self) -> u64 {
                self.#pk_ident
            }

            fn set_pk(&mut self, id: u64) {
                self.#pk_ident = id;
            }

            fn field_value(
                &self,
                index: usize,
            ) -> ::stdnet_orm::Result<::std::option::Option<::std::vec::Vec<u8>>> {
                match index {
                    #(#values,)*
                    _ => ::std::result::Result::Ok(None),
                }
            }

            fn field_score(&self, index: usize) -> ::std::option::Option<f64> {
                match index {
                    #(#scores,)*
                    _ => None,
                }
            }

            fn from_stored(
                id: u64,
                get: &dyn Fn(&str) -> ::std::option::Option<::stdnet_orm::__private::Bytes>,
            ) -> ::stdnet_orm::Result<Self> {
                ::std::result::Result::Ok(#ident { #(#decoders),* })
            }

            #validate
            #version_fns
        }

        impl #ident {
            #(#columns)*

            #[doc = #objects_doc]
            pub fn objects() -> ::stdnet_orm::Query<#ident> {
                ::stdnet_orm::Query::all()
            }
        }
    })
}

/// The `#[model(version)]` field, if any, with its `u64` check: at most one, not the
/// primary key, not indexed, not JSON, no default.
fn version_field(
    parsed: &[(&syn::Field, FieldAttrs)],
    all: &syn::punctuated::Punctuated<syn::Field, syn::Token![,]>,
) -> syn::Result<Option<(Ident, TokenStream2)>> {
    let mut found = parsed.iter().filter(|(_, a)| a.version);
    let Some((field, attrs)) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(syn::Error::new(
            all.span(),
            "only one field can be #[model(version)]",
        ));
    }
    if attrs.pk || attrs.index || attrs.unique || attrs.json || attrs.default.is_some() {
        return Err(syn::Error::new(
            field.span(),
            "a #[model(version)] field is a plain u64 the save script maintains: remove pk/index/unique/json/default",
        ));
    }
    let vident = field.ident.clone().expect("named field");
    let ty = &field.ty;
    let check = quote_spanned! {ty.span()=> let _: fn(&Self) -> &u64 = |model| &model.#vident; };
    Ok(Some((vident, check)))
}

/// Reads the version field: 0 when the hash has none.
fn version_decoder(model: &Ident, vident: &Ident) -> TokenStream2 {
    let vname = vident.unraw().to_string();
    quote! {
        #vident: match get(#vname) {
            ::std::option::Option::None => 0,
            ::std::option::Option::Some(stored) => {
                <u64 as ::stdnet_orm::Field>::from_stored(::std::option::Option::Some(&stored[..]))
                    .map_err(|reason| ::stdnet_orm::Error::Decode {
                        model: <#model as ::stdnet_orm::Model>::META.label(),
                        id,
                        field: #vname.to_owned(),
                        reason,
                    })?
            }
        }
    }
}

/// `ModelMeta::version` and the `version`/`set_version` methods.
fn version_items(version: Option<&(Ident, TokenStream2)>) -> (TokenStream2, TokenStream2) {
    let Some((vident, check)) = version else {
        return (quote!(::std::option::Option::None), quote!());
    };
    let vname = vident.unraw().to_string();
    (
        quote!(::std::option::Option::Some(#vname)),
        quote! {
            fn version(&self) -> u64 {
                #check
                self.#vident
            }

            fn set_version(&mut self, version: u64) {
                self.#vident = version;
            }
        },
    )
}

fn field_enum(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(FieldEnum)] is for enums whose variants carry no data",
        ));
    };
    let mut names = Vec::new();
    let mut variants: Vec<&Ident> = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.span(),
                "#[derive(FieldEnum)] stores variants by name: a variant cannot carry data",
            ));
        }
        names.push(v.ident.unraw().to_string());
        variants.push(&v.ident);
    }
    let expected = names.join(", ");
    Ok(quote! {
        impl ::stdnet_orm::Field for #ident {
            const KIND: ::stdnet_orm::FieldKind = ::stdnet_orm::FieldKind::Other;

            fn to_stored(&self) -> ::std::option::Option<::std::vec::Vec<u8>> {
                ::std::option::Option::Some(match self {
                    #(#ident::#variants => #names.as_bytes().to_vec(),)*
                })
            }

            fn from_stored(stored: ::std::option::Option<&[u8]>) -> ::std::result::Result<Self, ::std::string::String> {
                match stored {
                    #(::std::option::Option::Some(b) if b == #names.as_bytes() => ::std::result::Result::Ok(#ident::#variants),)*
                    ::std::option::Option::Some(other) => ::std::result::Result::Err(format!(
                        "{:?} is not one of {}", ::std::string::String::from_utf8_lossy(other), #expected
                    )),
                    ::std::option::Option::None => ::std::result::Result::Err("missing value".to_owned()),
                }
            }
        }
    })
}
