//! The committed header against the crate and the contract: version macros equal to
//! `Cargo.toml`, every function of DESIGN §9's table declared, the fixed status values, and
//! the VBA module's declarations and constants, and the .NET binding's constants, in step
//! with the header.

use std::collections::BTreeMap;

const HEADER: &str = include_str!("../include/inventory_sync.h");
const BAS: &str = include_str!("../bindings/vba/InventorySync.bas");
const CS: &str = include_str!("../bindings/dotnet/InventorySync.cs");

/// One C parameter or VBA parameter, reduced to what must agree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    /// `int32_t`, passed by value (VBA `ByVal Long`).
    Int,
    /// `int32_t *`, an out parameter (VBA `ByRef Long`).
    IntOut,
    /// `T **`, a handle out parameter (VBA `ByRef LongPtr`).
    PtrOut,
    /// Any other pointer, handle or callback (VBA `ByVal LongPtr`).
    Ptr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Sig {
    returns_status: bool,
    params: Vec<Param>,
}

/// The header without comments and without the test-only emulator block.
fn header_code() -> String {
    let mut out = String::new();
    let mut rest = HEADER;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("*/").expect("unclosed comment") + i + 2;
        rest = &rest[end..];
    }
    out.push_str(rest);
    let out: String = out
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    // Drop `#if defined(INVSYNC_EMULATOR)` … `#endif` blocks.
    let mut kept = String::new();
    let mut skipping = false;
    for line in out.lines() {
        if line.trim() == "#if defined(INVSYNC_EMULATOR)" {
            skipping = true;
        } else if skipping && line.trim().starts_with("#endif") {
            skipping = false;
        } else if !skipping
            && !line.trim_start().starts_with('#')
            && !line.contains("extern \"C\"")
            && line.trim() != "}"
        {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

fn c_param(p: &str) -> Param {
    let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
    let ty = p.rsplit_once(' ').map(|(t, _)| t).unwrap_or(&p).trim();
    let stars = p.matches('*').count();
    match (ty.trim_end_matches(['*', ' ']), stars) {
        ("int32_t", 0) => Param::Int,
        ("int32_t", 1) => Param::IntOut,
        (_, 2) => Param::PtrOut,
        (_, 1) => Param::Ptr,
        ("invsync_progress_fn", 0) => Param::Ptr,
        other => panic!("unexpected C parameter {p:?} ({other:?})"),
    }
}

fn header_functions() -> BTreeMap<String, Sig> {
    let code = header_code();
    let mut fns = BTreeMap::new();
    for stmt in code.split(';') {
        let s = stmt.trim();
        let Some(open) = s.find('(') else { continue };
        let head = s[..open].split_whitespace().collect::<Vec<_>>();
        let Some(name) = head.last().filter(|n| n.starts_with("invsync_")) else {
            continue;
        };
        // The calling convention is named in every declaration: a 32-bit MSVC host built
        // with /Gz would otherwise call the library as stdcall.
        assert_eq!(
            head.len(),
            3,
            "{name}: want `<type> INVSYNC_CALL {name}(`, got {head:?}"
        );
        assert_eq!(head[1], "INVSYNC_CALL", "{name}");
        let ret = head[0];
        assert!(ret == "int32_t" || ret == "void", "return type of {name}");
        let args = s[open + 1..s.rfind(')').unwrap()].trim();
        let params = if args == "void" || args.is_empty() {
            vec![]
        } else {
            args.split(',').map(c_param).collect()
        };
        fns.insert(
            (*name).to_owned(),
            Sig {
                returns_status: ret == "int32_t",
                params,
            },
        );
    }
    fns
}

fn vba_param(p: &str) -> Param {
    let words: Vec<&str> = p.split_whitespace().collect();
    let (by, ty) = match words.as_slice() {
        [by, _name, "As", ty] => (*by, *ty),
        _ => panic!("VBA parameter {p:?} must be `ByVal|ByRef name As Type`"),
    };
    match (by, ty) {
        ("ByVal", "Long") => Param::Int,
        ("ByRef", "Long") => Param::IntOut,
        ("ByRef", "LongPtr") => Param::PtrOut,
        ("ByVal", "LongPtr") => Param::Ptr,
        _ => panic!("VBA parameter {p:?} has no C counterpart"),
    }
}

/// The `Declare` lines of the .bas for `invsync_` functions in the branch `which` ("Win64"
/// or "Win32"): name → (alias, signature).
fn vba_declares(which: &str) -> BTreeMap<String, (Option<String>, Sig)> {
    let mut out = BTreeMap::new();
    let mut branch = "";
    for line in BAS.lines() {
        let t = line.trim();
        match t {
            "#If Win64 Then" => branch = "Win64",
            "#Else" if branch == "Win64" => branch = "Win32",
            "#End If" => branch = "",
            _ => {}
        }
        if branch != which || !t.starts_with("Public Declare PtrSafe ") {
            continue;
        }
        let rest = &t["Public Declare PtrSafe ".len()..];
        let (kind, rest) = rest.split_once(' ').unwrap();
        let (name, rest) = rest.split_once(' ').unwrap();
        if !name.starts_with("invsync_") {
            continue;
        }
        let rest = rest
            .strip_prefix("Lib \"inventory_sync.dll\" ")
            .unwrap_or_else(|| panic!("{name}: Lib must be \"inventory_sync.dll\""));
        let (alias, rest) = match rest.strip_prefix("Alias \"") {
            Some(r) => {
                let (a, r) = r.split_once("\" ").unwrap();
                (Some(a.to_owned()), r)
            }
            None => (None, rest),
        };
        let open = rest.find('(').unwrap();
        let close = rest.rfind(')').unwrap();
        let args = rest[open + 1..close].trim();
        let tail = rest[close + 1..].trim();
        let returns_status = match (kind, tail) {
            ("Function", "As Long") => true,
            ("Sub", "") => false,
            other => panic!("{name}: {other:?} is neither `Function … As Long` nor `Sub`"),
        };
        let params = if args.is_empty() {
            vec![]
        } else {
            args.split(',').map(vba_param).collect()
        };
        let previous = out.insert(
            name.to_owned(),
            (
                alias,
                Sig {
                    returns_status,
                    params,
                },
            ),
        );
        assert!(
            previous.is_none(),
            "{name} declared twice in the {which} branch"
        );
    }
    out
}

#[test]
fn version_macros_match_cargo_toml() {
    let get = |name: &str| -> String {
        let prefix = format!("#define {name} ");
        HEADER
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} missing from the header"))
            .trim()
            .to_owned()
    };
    assert_eq!(
        get("INVSYNC_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        get("INVSYNC_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        get("INVSYNC_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    assert_eq!(get("INVSYNC_ABI_VERSION"), "1");
    assert_eq!(inventory_sync::ffi::invsync_abi_version(), 1);
}

#[test]
fn header_has_the_fixed_status_values_and_a_banner() {
    let statuses = [
        ("INVSYNC_OK", 0),
        ("INVSYNC_NULL_POINTER", 1),
        ("INVSYNC_INVALID_UTF8", 2),
        ("INVSYNC_INVALID_ARGUMENT", 3),
        ("INVSYNC_NOT_FOUND", 4),
        ("INVSYNC_REFUSED", 5),
        ("INVSYNC_BUFFER_TOO_SMALL", 6),
        ("INVSYNC_CANCELLED", 7),
        ("INVSYNC_BUSY", 8),
        ("INVSYNC_DATABASE", 9),
        ("INVSYNC_NETWORK", 10),
        ("INVSYNC_PANIC", 99),
    ];
    for (name, value) in statuses {
        assert!(
            HEADER.contains(&format!("#define {name} {value}\n")),
            "{name} must be {value}"
        );
    }
    assert!(HEADER.contains("DO NOT EDIT"));
    assert!(HEADER.contains("#ifndef INVENTORY_SYNC_H"));
    assert!(HEADER.contains("extern \"C\" {"));
}

/// The library's functions and the callback it calls are the C convention (`extern "C"`):
/// on 32-bit Windows the header says `__cdecl`, so a host compiled with MSVC `/Gz` (stdcall
/// by default) neither calls the library nor hands it a callback in the wrong convention
/// (each would unbalance the stack). A host may define `INVSYNC_CALL` itself first.
#[test]
fn header_names_the_calling_convention() {
    let define = "#ifndef INVSYNC_CALL\n#if defined(_WIN32) && !defined(_WIN64)\n\
                  #define INVSYNC_CALL __cdecl\n#else\n#define INVSYNC_CALL\n#endif\n#endif\n";
    let at = HEADER.find(define).expect("INVSYNC_CALL's definition");
    assert!(at < HEADER.find("INVSYNC_CALL invsync_").unwrap());
    assert!(HEADER.contains(
        "typedef int32_t (INVSYNC_CALL *invsync_progress_fn)(void *user, int32_t done, int32_t total);"
    ));
    // Every declaration carries it (`header_functions` checks each), the emulator's too.
    assert!(header_functions().len() >= 30);
    let emulator = HEADER.matches("INVSYNC_CALL invsync_emulator_").count();
    assert!(emulator >= 2, "{emulator}");
}

#[test]
fn header_declares_every_function_of_the_contract_with_a_comment() {
    let contract = [
        "invsync_abi_version",
        "invsync_last_error",
        "invsync_store_open",
        "invsync_store_close",
        "invsync_param_set",
        "invsync_param_get",
        "invsync_cart_upsert",
        "invsync_cart_set_sync",
        "invsync_cart_list",
        "invsync_cart_delete",
        "invsync_cart_retire",
        "invsync_cart_save",
        "invsync_item_upsert",
        "invsync_item_list",
        "invsync_item_delete",
        "invsync_web_fields_set",
        "invsync_adjust_qoh",
        "invsync_adjust_qoh_ref",
        "invsync_item_qoh",
        "invsync_ledger_list",
        "invsync_begin",
        "invsync_commit",
        "invsync_rollback",
        "invsync_stack_count",
        "invsync_stack_list",
        "invsync_stack_retry",
        "invsync_stack_discard",
        "invsync_stack_run",
        "invsync_controller_start",
        "invsync_controller_stop",
        "invsync_controller_status",
        "invsync_send_qoh",
        "invsync_get_qoh",
        "invsync_preflight",
        "invsync_drift",
        "invsync_last_report",
    ];
    let fns = header_functions();
    for name in contract {
        assert!(fns.contains_key(name), "{name} is not in the header");
        // The declaration is preceded by its doc comment.
        let at = HEADER
            .find(&format!("\nint32_t INVSYNC_CALL {name}("))
            .or_else(|| HEADER.find(&format!("\nvoid INVSYNC_CALL {name}(")))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            HEADER[..at].trim_end().ends_with("*/"),
            "{name} has no comment"
        );
    }
    assert_eq!(
        fns.len(),
        contract.len(),
        "the header declares functions outside the contract (besides the emulator's): {:?}",
        fns.keys()
            .filter(|k| !contract.contains(&k.as_str()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn vba_declarations_match_the_header() {
    let header = header_functions();
    for branch in ["Win64", "Win32"] {
        let decls = vba_declares(branch);
        for (name, sig) in &header {
            let (alias, vsig) = decls
                .get(name)
                .unwrap_or_else(|| panic!("{branch}: {name} is not declared in InventorySync.bas"));
            assert_eq!(
                vsig.params.len(),
                sig.params.len(),
                "{branch}: {name} has {} parameters in VBA, {} in C",
                vsig.params.len(),
                sig.params.len()
            );
            assert_eq!(vsig, sig, "{branch}: {name} parameter types disagree");
            match branch {
                "Win64" => assert_eq!(alias, &None, "{name}: 64-bit calls the C names"),
                _ => assert_eq!(
                    alias.as_deref(),
                    Some(format!("{name}_std").as_str()),
                    "{name}: 32-bit must alias the stdcall twin"
                ),
            }
        }
        let extra: Vec<_> = decls.keys().filter(|k| !header.contains_key(*k)).collect();
        assert!(extra.is_empty(), "{branch}: not in the header: {extra:?}");
    }
}

#[test]
fn the_parsers_catch_a_disagreement() {
    // A parameter count or type that differs must fail the comparison above.
    let c = header_functions()["invsync_item_qoh"].clone();
    let mut wrong = c.clone();
    wrong.params[2] = Param::Int;
    assert_ne!(c, wrong);
    assert_eq!(
        vba_param("ByRef out_qoh As Long"),
        c.params[2],
        "an int32_t * is ByRef Long"
    );
    assert_eq!(c_param("invsync_store **out"), Param::PtrOut);
    assert_eq!(c_param("const char *sku"), Param::Ptr);
}

/// The VBA editor imports modules and classes with CRLF line endings only.
#[test]
fn the_vba_files_keep_crlf_line_endings() {
    for file in ["InventorySync.bas", "InventorySyncClient.cls"] {
        let path = format!("{}/bindings/vba/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let lf = bytes.iter().filter(|b| **b == b'\n').count();
        let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
        assert!(
            lf > 0 && lf == crlf,
            "{file}: {lf} line feeds, {crlf} after a CR"
        );
    }
}

/// The header's `#define NAME <integer>` macros (status codes, flags, the ABI version): name
/// → value. Macros whose value is an expression (the input limits) are left out.
fn header_constants() -> BTreeMap<String, i64> {
    HEADER
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|d| {
            let (name, value) = d.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The .bas's `Public Const NAME As Long = <integer>` lines: name → value. A constant of the
/// VBA module's own (`INVSYNC_ERR_BASE = vbObjectError + 4096`) has no integer value and is
/// left out; anything else that does not parse fails.
fn vba_constants() -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for line in BAS.lines() {
        let Some(rest) = line.trim().strip_prefix("Public Const ") else {
            continue;
        };
        let (name, value) = rest
            .split_once(" As Long = ")
            .unwrap_or_else(|| panic!("VBA constant {rest:?} must be `NAME As Long = value`"));
        if value.contains("vbObjectError") {
            continue;
        }
        let value = value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("VBA constant {name} = {value:?} is not a number"));
        assert!(
            out.insert(name.to_owned(), value).is_none(),
            "{name} defined twice in InventorySync.bas"
        );
    }
    out
}

/// `BufferTooSmall` → `BUFFER_TOO_SMALL`, `InvalidUtf8` → `INVALID_UTF8`.
fn upper_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// The members of `public enum <name> { A = 1, ... }` in the .NET binding: member → value.
fn cs_enum(name: &str) -> BTreeMap<String, i64> {
    let start = CS
        .find(&format!("public enum {name}\n"))
        .unwrap_or_else(|| panic!("enum {name} missing from InventorySync.cs"));
    let body = &CS[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            let (k, v) = m
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}.{m}: every member needs its value"));
            (k.trim().to_owned(), v.trim().parse().unwrap())
        })
        .collect()
}

/// The .NET binding's `public const int Name = <integer>;` lines: name → value.
fn cs_int_constants() -> BTreeMap<String, i64> {
    CS.lines()
        .filter_map(|l| l.trim().strip_prefix("public const int "))
        .map(|rest| {
            let (name, value) = rest.split_once(" = ").unwrap();
            let value = value.trim_end_matches(';').trim();
            (
                name.to_owned(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{name} = {value:?} is not a number")),
            )
        })
        .collect()
}

/// A VBA host tests a call's status against the module's constants (`If rc =
/// INVSYNC_BUFFER_TOO_SMALL`) and passes its flags by name (`INVSYNC_MANUAL_FORCE`): a value
/// that drifts from the header's makes it misread every answer or ask for what it did not mean,
/// and nothing else would notice (the declarations test compares functions only). Every
/// integer macro of the header is in the module, with the same value, and the module has no
/// `INVSYNC_` constant the header lacks.
#[test]
fn vba_constants_equal_the_headers() {
    let header = header_constants();
    let vba = vba_constants();
    let versions = [
        "INVSYNC_VERSION_MAJOR",
        "INVSYNC_VERSION_MINOR",
        "INVSYNC_VERSION_PATCH",
    ];
    assert!(header.len() > 15, "header constants not found: {header:?}");
    for (name, value) in header
        .iter()
        .filter(|(n, _)| !versions.contains(&n.as_str()))
    {
        assert_eq!(
            vba.get(name),
            Some(value),
            "{name}: InventorySync.bas must say {value}"
        );
    }
    let extra: Vec<_> = vba
        .keys()
        .filter(|k| k.starts_with("INVSYNC_") && !header.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty(),
        "in the VBA module, not the header: {extra:?}"
    );
}

/// The same for the .NET binding: its `Status` enum is what `InventorySyncException.Status`
/// reports (a host catches `Status.Busy` to retry), its flag constants are what it passes,
/// and its `Reason` and `StackState` enums are the numbers the calls take (the header has no
/// macros for those: they must be the crate's, DESIGN §9). Each is compared by name.
#[test]
fn dotnet_constants_equal_the_headers() {
    let header = header_constants();
    let status = cs_enum("Status");
    let statuses: Vec<_> = header
        .keys()
        .filter(|n| {
            !n.starts_with("INVSYNC_VERSION_")
                && ![
                    "INVSYNC_ABI_VERSION",
                    "INVSYNC_ADJUST_NO_WEB",
                    "INVSYNC_MANUAL_FORCE",
                    "INVSYNC_GET_CREATE_NEW",
                ]
                .contains(&n.as_str())
        })
        .collect();
    assert_eq!(
        status.len(),
        statuses.len(),
        "Status has {status:?}, the header's statuses are {statuses:?}"
    );
    for (member, value) in &status {
        let name = format!("INVSYNC_{}", upper_snake(member));
        assert_eq!(header.get(&name), Some(value), "Status.{member} vs {name}");
    }
    let consts = cs_int_constants();
    for (member, macro_name) in [
        ("AbiVersion", "INVSYNC_ABI_VERSION"),
        ("AdjustNoWeb", "INVSYNC_ADJUST_NO_WEB"),
        ("ManualForce", "INVSYNC_MANUAL_FORCE"),
        ("GetCreateNew", "INVSYNC_GET_CREATE_NEW"),
    ] {
        assert_eq!(
            consts.get(member),
            header.get(macro_name),
            "{member} vs {macro_name}"
        );
    }
    assert_eq!(
        consts.len(),
        4,
        "a constant of the binding not compared: {consts:?}"
    );
    let reasons = cs_enum("Reason");
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    for (member, value) in &reasons {
        let reason = inventory_sync::Reason::from_code(*value)
            .unwrap_or_else(|e| panic!("Reason.{member} = {value}: {e}"));
        assert_eq!(
            upper_snake(member),
            reason.name().to_uppercase(),
            "Reason.{member} = {value}"
        );
    }
    let states = cs_enum("StackState");
    assert_eq!(states.len(), 3, "{states:?}");
    for (member, value) in &states {
        let state = inventory_sync::StackState::from_code(*value)
            .unwrap_or_else(|e| panic!("StackState.{member} = {value}: {e}"));
        assert_eq!(
            &format!("{state:?}"),
            member,
            "StackState.{member} = {value}"
        );
    }
}
