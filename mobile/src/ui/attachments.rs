//! Photos, scans and signatures: attached to a record or a case file, shown as thumbnails
//! with a full view on tap, and a client's signature drawn with a finger on the consent it
//! signs.
//!
//! A photo is downscaled and encoded again before it is stored, which strips its EXIF and
//! GPS position ([`capture`]). A colleague's attachment that has not reached this device yet
//! shows as such, with a way to fetch it now; an erased one shows its tombstone.

use std::rc::Rc;

use chrono::Local;
use dioxus::html::FileData;
use dioxus::prelude::*;
use doorstep_shared::DocId;
use doorstep_shared::attachments::capture::{self, Strokes};
use doorstep_shared::attachments::{
    Attachment, AttachmentDraft, AttachmentKind, BlobHash, SignatureBinding, consent_wording_hash,
    size_label,
};
use doorstep_shared::ids::{CaseId, ItemId, RecordId};
use doorstep_shared::model::Case;
use doorstep_shared::store::BlobState;

use super::Route;
use crate::platform;
use crate::session::Session;

/// How wide a signature's picture is drawn.
const SIGNATURE_WIDTH: u32 = 900;

/// A document's attachments, and (if it may take them) buttons to take a photo or attach a
/// file. Signatures are shown with the consents they sign ([`ConsentSignatures`]).
#[component]
pub fn Attachments(doc: DocId, attachments: Vec<Attachment>, editable: bool) -> Element {
    let mut session = Session::get();
    let mut caption = use_signal(String::new);
    // Bumped to give the caption a fresh, empty input after each attachment (see "Typed
    // text" in `ui`).
    let mut captions = use_signal(|| 0u32);
    let mut working = use_signal(|| false);
    let shown: Vec<Attachment> = attachments
        .into_iter()
        .filter(|attachment| attachment.kind != AttachmentKind::Signature)
        .collect();
    let detach_from = match doc {
        DocId::Record(record) if editable => Some(record),
        _ => None,
    };
    let attach = move |event: FormEvent, kind: AttachmentKind| async move {
        let Some(file) = event.files().into_iter().next() else {
            return;
        };
        working.set(true);
        let result = prepare(&file, kind, session).await;
        working.set(false);
        let (bytes, draft) = match result {
            Ok(prepared) => prepared,
            Err(message) => {
                session.notice.set(Some(message));
                return;
            }
        };
        let draft = AttachmentDraft {
            caption: caption.peek().trim().to_owned(),
            ..draft
        };
        if session
            .write(|store| store.attach(doc, &bytes, &draft, platform::now()))
            .is_some()
        {
            caption.set(String::new());
            captions += 1;
        }
    };
    rsx! {
        fieldset { class: "list attachments",
            legend { "Photos and documents" }
            if shown.is_empty() {
                p { class: "meta", "None attached." }
            }
            ul { class: "thumbnails",
                for attachment in shown {
                    Thumbnail {
                        key: "{attachment.id}",
                        attachment: attachment.clone(),
                        detach_from,
                    }
                }
            }
            if editable {
                label {
                    "What it shows (optional)"
                    for generation in [captions()] {
                        input { key: "{generation}", name: "attachment_caption", autocomplete: "off", oninput: move |event| caption.set(event.value()) }
                    }
                }
                if working() {
                    p { class: "meta", role: "status", "Preparing the photo…" }
                }
                div { class: "row",
                    label { class: "button secondary file-button",
                        "Take or choose a photo"
                        input {
                            r#type: "file",
                            name: "photo",
                            accept: "image/jpeg,image/png",
                            capture: "environment",
                            onchange: move |event| attach(event, AttachmentKind::Photo),
                        }
                    }
                    label { class: "button secondary file-button",
                        "Attach a document"
                        input {
                            r#type: "file",
                            name: "document",
                            accept: "application/pdf,image/jpeg,image/png",
                            onchange: move |event| attach(event, AttachmentKind::Document),
                        }
                    }
                }
            }
        }
    }
}

/// Reads a chosen file and makes it ready to attach: a picture downscaled and encoded again
/// (its EXIF gone), a PDF as it is.
async fn prepare(
    file: &FileData,
    kind: AttachmentKind,
    session: Session,
) -> Result<(Vec<u8>, AttachmentDraft), String> {
    let limits = session
        .read(|store| store.attachment_limits())
        .ok_or("The app is locked: unlock it to attach.")?
        .map_err(|error| error.to_string())?;
    // A file far over the limit is refused before it is read into memory.
    if file.size() > limits.max_attachment_bytes.saturating_mul(4) {
        return Err(doorstep_shared::attachments::AttachmentError::TooLarge {
            size: file.size(),
            limit: limits.max_attachment_bytes,
        }
        .to_string());
    }
    let bytes = file
        .read_bytes()
        .await
        .map_err(|_| "The file could not be read.".to_owned())?
        .to_vec();
    let is_pdf = bytes.starts_with(b"%PDF-");
    if is_pdf && kind == AttachmentKind::Document {
        return Ok((
            bytes,
            AttachmentDraft {
                kind,
                media_type: "application/pdf".into(),
                dimensions: None,
                caption: String::new(),
                signs: None,
            },
        ));
    }
    let prepared = capture::prepare_photo(&bytes, limits.photo_longest_side)
        .map_err(|error| error.to_string())?;
    Ok((
        prepared.bytes,
        AttachmentDraft {
            kind,
            media_type: prepared.media_type.into(),
            dimensions: Some((prepared.width, prepared.height)),
            caption: String::new(),
            signs: None,
        },
    ))
}

/// One attachment: its picture if it is here, else where it stands, and a tap for the full
/// view.
#[component]
fn Thumbnail(attachment: Attachment, detach_from: Option<RecordId>) -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let hash = attachment.hash;
    let state = session
        .read(|store| store.blob_state(hash))
        .and_then(Result::ok)
        .unwrap_or(BlobState::NotDownloaded { received: 0 });
    let noun = attachment.kind.noun();
    let caption = if attachment.caption.is_empty() {
        noun.to_owned()
    } else {
        attachment.caption.clone()
    };
    let zone = *Local::now().offset();
    let meta = format!(
        "{}, by {}, {}",
        size_label(attachment.size),
        attachment.by,
        attachment.at.with_timezone(&zone).format("%-d %b %Y %H:%M")
    );
    let detach = move |_| {
        if let Some(record) = detach_from {
            session.write(|store| store.detach(record, attachment.id, platform::now()));
        }
    };
    rsx! {
        li { class: "thumbnail", "data-hash": "{hash}",
            match (&attachment.erased, state) {
                (Some(erasure), _) => rsx! {
                    p { class: "tombstone", "This {noun} was {erasure.describe()}" }
                },
                (None, BlobState::Erased) => rsx! {
                    p { class: "tombstone", "This {noun} was erased." }
                },
                (None, BlobState::Here) => rsx! {
                    button {
                        class: "thumbnail-open",
                        r#type: "button",
                        "aria-label": "Open {caption}",
                        onclick: move |_| session.open(Route::AttachmentView { hash: hash.to_string() }),
                        if attachment.is_image() {
                            Picture { key: "{hash}", hash, media_type: attachment.media_type.clone(), alt: caption.clone() }
                        } else {
                            span { class: "document-icon", "PDF" }
                        }
                    }
                },
                (None, BlobState::NotDownloaded { .. }) => rsx! {
                    div { class: "not-downloaded",
                        p { "{capitalised(noun)} not yet downloaded" }
                        button { class: "text-button", r#type: "button", onclick: move |_| fetch_now(session, hash), "Download now" }
                    }
                },
            }
            p { class: "caption", "{caption}" }
            p { class: "meta", "{meta}" }
            if detach_from.is_some() && attachment.erased.is_none() {
                button { class: "text-button", r#type: "button", onclick: detach, "Take off" }
            }
        }
    }
}

fn capitalised(word: &str) -> String {
    doorstep_shared::template::capitalised(word)
}

/// Fetches one blob now, at the worker's tap, whatever the connection.
fn fetch_now(mut session: Session, hash: BlobHash) {
    spawn(async move {
        let Some(client) = crate::sync_engine::client(&session) else {
            session
                .notice
                .set(Some("Sign in to fetch attachments from the server.".into()));
            return;
        };
        let mut side = crate::sync_engine::SessionSide(session);
        match client.fetch_blob(&mut side, hash).await {
            Ok(true) => *session.revision.write() += 1,
            Ok(false) => {}
            Err(error) => session
                .notice
                .set(Some(crate::sync_engine::describe(&error))),
        }
    });
}

/// A picture held on the device, shown from an address made for it and let go when it is
/// no longer shown.
#[component]
fn Picture(hash: BlobHash, media_type: String, alt: String) -> Element {
    let session = Session::get();
    let url = use_hook(|| held_url(session, hash, &media_type).map(Rc::new));
    {
        let url = url.clone();
        use_drop(move || {
            if let Some(url) = url {
                platform::release_picture_url(&url);
            }
        });
    }
    match url {
        Some(url) => rsx! { img { src: "{url}", alt: "{alt}" } },
        None => rsx! { span { class: "meta", "{alt}" } },
    }
}

/// An address the page can show or open a blob held on the device from.
fn held_url(session: Session, hash: BlobHash, media_type: &str) -> Option<String> {
    session
        .read(|store| store.blob(hash))
        .and_then(Result::ok)
        .flatten()
        .and_then(|bytes| platform::picture_url(&bytes, media_type))
}

/// The full view of an attachment: the picture at the screen's width, or a way to open a
/// PDF.
#[component]
pub fn AttachmentView(hash: String) -> Element {
    let session = Session::get();
    let _ = session.revision.read();
    let Ok(hash) = hash.parse::<BlobHash>() else {
        return rsx! { p { class: "empty", "No such attachment." } };
    };
    let state = session
        .read(|store| store.blob_state(hash))
        .and_then(Result::ok);
    let media_type = session
        .read(|store| store.blob_media_type(hash))
        .and_then(Result::ok)
        .flatten();
    match (state, media_type) {
        (Some(BlobState::Here), Some(media_type)) if media_type.starts_with("image/") => rsx! {
            section { class: "attachment-view",
                Picture { hash, media_type, alt: "Attachment" }
            }
        },
        (Some(BlobState::Here), Some(media_type)) => rsx! {
            section { class: "attachment-view",
                PdfLink { hash, media_type }
            }
        },
        (Some(BlobState::Erased), _) => {
            rsx! { p { class: "empty", "This attachment was erased." } }
        }
        _ => rsx! { p { class: "empty", "This attachment is not on this device yet." } },
    }
}

#[component]
fn PdfLink(hash: BlobHash, media_type: String) -> Element {
    let session = Session::get();
    let url = use_hook(|| held_url(session, hash, &media_type));
    match url {
        Some(url) => {
            rsx! { a { class: "button primary", href: "{url}", target: "_blank", rel: "noopener", "Open the document" } }
        }
        None => rsx! { p { class: "empty", "The document could not be opened." } },
    }
}

/// Each consent on a case file with the client's signatures of it, and a way to have the
/// client sign it here.
#[component]
pub fn ConsentSignatures(case_id: CaseId, case: Case) -> Element {
    let mut session = Session::get();
    let zone = *Local::now().offset();
    let consents: Vec<_> = case
        .profile
        .consents
        .iter()
        .filter(|consent| consent.scope.is_some())
        .cloned()
        .collect();
    if consents.is_empty() {
        return rsx! {};
    }
    rsx! {
        fieldset { class: "list signatures",
            legend { "Signed consents" }
            for consent in consents {
                div { key: "{consent.id}", class: "signed-consent",
                    p { strong { "{consent_label(&consent)}" } }
                    for signature in case.attachments.iter().filter(|a| a.signs.as_ref().is_some_and(|s| s.consent == consent.id)) {
                        div { key: "{signature.id}", class: "signature",
                            ul { class: "thumbnails",
                                Thumbnail { attachment: signature.clone(), detach_from: None }
                            }
                            if let Some(binding) = &signature.signs {
                                p { class: "meta",
                                    "Signed {signed_on(binding, zone)}. "
                                    if binding.matches(&consent) {
                                        "The consent reads as it did when it was signed."
                                    } else {
                                        strong { "The consent's wording has changed since it was signed." }
                                    }
                                }
                            }
                        }
                    }
                    button {
                        class: "secondary",
                        r#type: "button",
                        onclick: move |_| session.open(Route::SignConsent { id: case_id, consent: consent.id }),
                        "Client signs this consent"
                    }
                }
            }
        }
    }
}

fn signed_on(binding: &SignatureBinding, zone: chrono::FixedOffset) -> String {
    binding
        .signed_at
        .with_timezone(&zone)
        .format("%-d %b %Y %H:%M")
        .to_string()
}

fn consent_label(consent: &doorstep_shared::model::Consent) -> String {
    let scope = consent
        .scope
        .and_then(|scope| serde_json::to_value(scope).ok())
        .and_then(|value| value.as_str().map(doorstep_shared::template::choice_label))
        .unwrap_or_else(|| "Consent".to_owned());
    let given = consent
        .given_on
        .map(|day| format!(", given {}", day.format("%-d %b %Y")))
        .unwrap_or_default();
    format!("Consent to {}{given}", scope.to_lowercase())
}

/// The client signs a consent with a finger: the strokes are drawn as they are made, and kept
/// with the picture made from them.
#[component]
pub fn SignConsent(id: CaseId, consent: ItemId) -> Element {
    let mut session = Session::get();
    let mut strokes = use_signal(Vec::<Vec<(f32, f32)>>::new);
    let mut drawing = use_signal(|| false);
    let mut pad = use_signal(|| None::<Rc<MountedData>>);
    let Some(Ok(case)) = session.read(|store| store.case(id)) else {
        return rsx! { p { class: "empty", "This case is not on this device." } };
    };
    let Some(signed) = case
        .profile
        .consents
        .iter()
        .find(|entry| entry.id == consent)
        .cloned()
    else {
        return rsx! { p { class: "empty", "This consent is not on the case file." } };
    };
    let label = consent_label(&signed);
    let wording = signed.details.clone();
    let client = case.profile.client_name.clone();
    let save = move |_| {
        let signed = signed.clone();
        let client = client.clone();
        async move {
            let drawn = strokes.peek().clone();
            let size = match pad.peek().clone() {
                Some(pad) => pad
                    .get_client_rect()
                    .await
                    .map(|rect| (rect.width() as f32, rect.height() as f32))
                    .ok(),
                None => None,
            };
            let strokes = Strokes {
                pad: size.unwrap_or((360.0, 200.0)),
                strokes: drawn,
            };
            if strokes.is_empty() {
                session
                    .notice
                    .set(Some("Ask the client to sign in the box first.".into()));
                return;
            }
            let picture = match strokes.to_png(SIGNATURE_WIDTH) {
                Ok(picture) => picture,
                Err(error) => {
                    session.notice.set(Some(error.to_string()));
                    return;
                }
            };
            let now = platform::now();
            let draft = AttachmentDraft {
                kind: AttachmentKind::Signature,
                media_type: picture.media_type.into(),
                dimensions: Some((picture.width, picture.height)),
                caption: format!("Signed by {client}"),
                signs: Some(SignatureBinding {
                    consent: signed.id,
                    wording: consent_wording_hash(&signed),
                    signed_at: now,
                }),
            };
            let strokes_json = strokes.to_json();
            if session
                .write(|store| {
                    store.attach_signature(id, &picture.bytes, &strokes_json, &draft, now)
                })
                .is_some()
            {
                session.back(&Route::SignConsent { id, consent });
            }
        }
    };
    let lines: Vec<String> = strokes
        .read()
        .iter()
        .map(|stroke| {
            stroke
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    rsx! {
        section { class: "sign-consent",
            h2 { "{label}" }
            if !wording.is_empty() {
                p { class: "consent-wording", "{wording}" }
            }
            p { class: "meta", "{case.profile.client_name} signs in the box with a finger." }
            div {
                class: "signature-pad",
                role: "img",
                "aria-label": "Signature box",
                onmounted: move |event| pad.set(Some(event.data())),
                onpointerdown: move |event| {
                    let point = event.element_coordinates();
                    strokes.write().push(vec![(point.x as f32, point.y as f32)]);
                    drawing.set(true);
                },
                onpointermove: move |event| {
                    if drawing() {
                        let point = event.element_coordinates();
                        if let Some(stroke) = strokes.write().last_mut() {
                            stroke.push((point.x as f32, point.y as f32));
                        }
                    }
                },
                onpointerup: move |_| drawing.set(false),
                onpointercancel: move |_| drawing.set(false),
                onpointerleave: move |_| drawing.set(false),
                svg {
                    for (index, points) in lines.into_iter().enumerate() {
                        polyline {
                            key: "{index}",
                            points: "{points}",
                            fill: "none",
                            stroke: "#111",
                            stroke_width: "3",
                            stroke_linecap: "round",
                            stroke_linejoin: "round",
                        }
                    }
                }
            }
            div { class: "row",
                button { class: "secondary", r#type: "button", onclick: move |_| strokes.set(Vec::new()), "Clear" }
                button { class: "primary", r#type: "button", onclick: save, "Save the signature" }
            }
        }
    }
}
