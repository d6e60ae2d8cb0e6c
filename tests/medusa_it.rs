//! Integration tests against a real Medusa v2 running on loopback (`tests/medusa/setup.sh`,
//! run by `.ci/medusa.sh`). Without `--features medusa-it` they are skipped LOUDLY: the one
//! test that runs is named `medusa_it_SKIPPED_…` and prints why, so a green run is never
//! mistaken for a Medusa run.

#[cfg(not(feature = "medusa-it"))]
#[test]
#[allow(non_snake_case)]
fn medusa_it_SKIPPED_enable_feature_medusa_it_and_run_ci_medusa_sh() {
    eprintln!(
        "SKIPPED: Medusa integration tests need `--features medusa-it` and a running Medusa \
         (.ci/medusa.sh sets one up on 127.0.0.1). Nothing was tested against Medusa."
    );
}

#[cfg(feature = "medusa-it")]
#[test]
fn medusa_setup_is_present_and_the_adapter_is_registered() {
    // Fails (never skips) when the feature is on but the setup script was not run.
    for var in [
        "MEDUSA_URL",
        "MEDUSA_EMAIL",
        "MEDUSA_PASSWORD",
        "MEDUSA_LOCATION_ID",
        "MEDUSA_SKUS",
    ] {
        assert!(
            std::env::var(var).is_ok(),
            "{var} is not set: run tests/medusa/setup.sh (or .ci/medusa.sh) first"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let store = inventory_sync::Store::open(dir.path().join("s.db")).unwrap();
    let cart = serde_json::json!({
        "name": "Medusa", "adapter": "medusa", "url": std::env::var("MEDUSA_URL").unwrap(),
        "email": std::env::var("MEDUSA_EMAIL").unwrap(), "password": "env:MEDUSA_PASSWORD",
        "location_id": std::env::var("MEDUSA_LOCATION_ID").unwrap(),
    });
    let id = store.upsert_cart_json(&cart.to_string()).unwrap();
    // The medusa adapter is not implemented yet (see the closing note): this fails
    // with "adapter \"medusa\" is not available in this build" until it is.
    let report = store
        .get_qoh(
            id,
            inventory_sync::GetOptions {
                force: true,
                create_new: true,
            },
            None,
        )
        .expect("Get QOH from the real Medusa");
    assert!(report.created >= 3, "{report:?}");
}
