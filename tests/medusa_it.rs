//! Integration tests against a real Medusa v2 running on loopback (`tests/medusa/setup.sh`,
//! run by `.ci/medusa.sh`). Without `--features medusa-it` they are skipped LOUDLY: the one
//! test that runs is named `medusa_it_SKIPPED_…` and prints why, so a green run is never
//! mistaken for a Medusa run. With the feature on and no Medusa set up, they fail.
//!
//! The tests share one Medusa and its seeded SKUs, so they take a lock: each one sets the
//! counts it starts from through Medusa's own admin API and checks the results there.

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
mod real {
    use inventory_sync::adapter::medusa::{MedusaAdapter, MedusaAuth};
    use inventory_sync::adapter::{CartAdapter, DeltaSend, SendOutcome, UpdateMode};
    use inventory_sync::secret::Secret;
    use inventory_sync::{
        Adjustment, CartId, Delta, GetOptions, Reason, SendOptions, StackState, Store,
    };
    use serde_json::{json, Value};
    use std::sync::{Mutex, MutexGuard};
    use std::time::Duration;

    static LOCK: Mutex<()> = Mutex::new(());

    fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run tests/medusa/setup.sh (or .ci/medusa.sh) first")
        })
    }

    /// Medusa's admin API, used by the tests to set up and check counts independently of
    /// the adapter.
    struct Admin {
        base: String,
        jwt: String,
        http: reqwest::blocking::Client,
        location: String,
    }

    impl Admin {
        fn login() -> Admin {
            let base = env("MEDUSA_URL");
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let answer: Value = http
                .post(format!("{base}auth/user/emailpass"))
                .json(&json!({"email": env("MEDUSA_EMAIL"), "password": env("MEDUSA_PASSWORD")}))
                .send()
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .unwrap();
            Admin {
                base,
                jwt: answer["token"].as_str().unwrap().to_owned(),
                http,
                location: env("MEDUSA_LOCATION_ID"),
            }
        }

        fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
            let mut r = self
                .http
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(&self.jwt);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let response = r.send().unwrap();
            let status = response.status();
            let text = response.text().unwrap();
            assert!(status.is_success(), "{path}: {status}: {text}");
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            }
        }

        fn item_id(&self, sku: &str) -> String {
            let v = self.call(
                reqwest::Method::GET,
                &format!("admin/inventory-items?sku={sku}&fields=id"),
                None,
            );
            v["inventory_items"][0]["id"].as_str().unwrap().to_owned()
        }

        /// (stocked, reserved, available) of `sku` at the test location.
        fn level(&self, sku: &str) -> (i64, i64, i64) {
            let v = self.call(
                reqwest::Method::GET,
                &format!("admin/inventory-items?sku={sku}&fields=id,sku,*location_levels"),
                None,
            );
            let levels = v["inventory_items"][0]["location_levels"]
                .as_array()
                .unwrap();
            let l = levels
                .iter()
                .find(|l| l["location_id"] == self.location.as_str())
                .unwrap();
            let n = |k: &str| l[k].as_f64().unwrap() as i64;
            (
                n("stocked_quantity"),
                n("reserved_quantity"),
                n("available_quantity"),
            )
        }

        fn set_stocked(&self, sku: &str, stocked: i64) {
            let id = self.item_id(sku);
            self.call(
                reqwest::Method::POST,
                &format!(
                    "admin/inventory-items/{id}/location-levels/{}",
                    self.location
                ),
                Some(json!({"stocked_quantity": stocked})),
            );
        }

        /// Places a hold of `quantity` on `sku` (what an order does); returns its id.
        fn reserve(&self, sku: &str, quantity: i64) -> String {
            let v = self.call(
                reqwest::Method::POST,
                "admin/reservations",
                Some(json!({"inventory_item_id": self.item_id(sku),
                    "location_id": self.location, "quantity": quantity})),
            );
            v["reservation"]["id"].as_str().unwrap().to_owned()
        }

        fn unreserve(&self, id: &str) {
            self.call(
                reqwest::Method::DELETE,
                &format!("admin/reservations/{id}"),
                None,
            );
        }

        fn create_secret_key(&self) -> String {
            let v = self.call(
                reqwest::Method::POST,
                "admin/api-keys",
                Some(json!({"title": "invsync-it", "type": "secret"})),
            );
            v["api_key"]["token"].as_str().unwrap().to_owned()
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        admin: Admin,
        _guard: MutexGuard<'static, ()>,
    }

    fn fixture() -> Fixture {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store.db")).unwrap();
        store.set_param("SynchQOH", "true").unwrap();
        store.set_param("RetryBaseMs", "0").unwrap();
        store.set_param("RetryMaxMs", "0").unwrap();
        Fixture {
            _dir: dir,
            store,
            admin: Admin::login(),
            _guard: guard,
        }
    }

    fn cart_json(password: &str) -> Value {
        json!({"name": "Medusa", "adapter": "medusa", "url": env("MEDUSA_URL"),
            "email": env("MEDUSA_EMAIL"), "password": password,
            "location_id": env("MEDUSA_LOCATION_ID"), "max_items_to_send": 2})
    }

    impl Fixture {
        fn cart(&self) -> CartId {
            // The password is read from the environment, as a deployment would.
            self.store
                .upsert_cart_json(&cart_json("env:MEDUSA_PASSWORD").to_string())
                .unwrap()
        }

        fn item(&self, sku: &str, qoh: i64) {
            self.store
                .upsert_item_json(&json!({"sku": sku, "qoh": qoh}).to_string())
                .unwrap();
        }

        fn adjust(&self, sku: &str, delta: i64) {
            self.store
                .adjust_qoh(&Adjustment::new(
                    sku,
                    Delta::new(delta).unwrap(),
                    Reason::Adjustment,
                ))
                .unwrap();
        }

        /// Runs passes until nothing waits (bounded by count, never by sleeping).
        fn drain(&self) {
            for _ in 0..20 {
                if self.store.run_stack(None).unwrap().remaining == 0 {
                    return;
                }
            }
        }

        fn records(&self, cart: CartId) -> Vec<Value> {
            let list = self
                .store
                .stack_list_json(Some(&format!(r#"{{"cart_id":{cart}}}"#)))
                .unwrap();
            serde_json::from_str::<Value>(&list)
                .unwrap()
                .as_array()
                .unwrap()
                .clone()
        }
    }

    fn skus() -> Vec<String> {
        env("MEDUSA_SKUS").split(',').map(str::to_owned).collect()
    }

    fn adapter() -> MedusaAdapter {
        MedusaAdapter::new(
            &env("MEDUSA_URL"),
            MedusaAuth::EmailPass {
                email: env("MEDUSA_EMAIL"),
                password: Secret::new(env("MEDUSA_PASSWORD")),
            },
            &env("MEDUSA_LOCATION_ID"),
            Duration::from_secs(30),
        )
        .unwrap()
    }

    #[test]
    fn send_qoh_publishes_available_and_keeps_reservations() {
        let f = fixture();
        let skus = skus();
        let (s, m, l) = (&skus[0], &skus[1], &skus[2]);
        for sku in &skus {
            f.admin.set_stocked(sku, 10);
        }
        let hold = f.admin.reserve(m, 2);
        f.item(s, 5);
        f.item(m, 6);
        f.item(l, 7);
        let cart = f.cart();
        let report = f
            .store
            .send_qoh(cart, SendOptions { force: true }, None)
            .unwrap();
        let levels = (f.admin.level(s), f.admin.level(m), f.admin.level(l));
        f.admin.unreserve(&hold);
        assert_eq!(report.sent, 3, "{report:?}");
        assert_eq!(report.failed, 0, "{report:?}");
        assert_eq!(levels.0, (5, 0, 5));
        assert_eq!(levels.1, (8, 2, 6), "stocked = target 6 + reserved 2");
        assert_eq!(levels.2, (7, 0, 7));
    }

    /// Real Medusa answers 404 for a stock location it does not have (its batch endpoint
    /// would create levels there): Send QOH names the setting and writes nothing.
    #[test]
    fn a_stock_location_medusa_does_not_have_is_named() {
        let f = fixture();
        let sku = &skus()[0];
        f.admin.set_stocked(sku, 10);
        f.item(sku, 4);
        let mut spec = cart_json("env:MEDUSA_PASSWORD");
        spec["location_id"] = "sloc_01NOSUCHLOCATION".into();
        let cart = f.store.upsert_cart_json(&spec.to_string()).unwrap();
        let e = f
            .store
            .send_qoh(cart, SendOptions { force: true }, None)
            .expect_err("no such location");
        assert!(
            e.message().contains("no stock location") && e.message().contains("location_id"),
            "{}",
            e.message()
        );
        assert_eq!(f.admin.level(sku), (10, 0, 10));
    }

    #[test]
    fn get_qoh_reads_available_over_pages() {
        let f = fixture();
        let skus = skus();
        for (i, sku) in skus.iter().enumerate() {
            f.admin.set_stocked(sku, 11 + i as i64);
        }
        let hold = f.admin.reserve(&skus[0], 4);
        let cart = f.cart();
        let report = f.store.get_qoh(
            cart,
            GetOptions {
                force: true,
                create_new: true,
            },
            None,
        );
        let qoh: Vec<_> = skus.iter().map(|s| f.store.item_qoh(s)).collect();
        // The adapter alone, one item a page: every SKU arrives, over several pages.
        let a = adapter();
        let mut cursor = None;
        let mut pages = 0;
        let mut seen = Vec::new();
        loop {
            let page = a.fetch_quantities(cursor.as_deref(), 1).unwrap();
            pages += 1;
            seen.extend(page.items);
            cursor = page.next_cursor;
            if cursor.is_none() || pages > 1000 {
                break;
            }
        }
        f.admin.unreserve(&hold);
        let report = report.unwrap();
        assert!(report.created >= skus.len(), "{report:?}");
        assert_eq!(
            qoh[0].as_ref().unwrap(),
            &(11 - 4),
            "available, not stocked"
        );
        assert_eq!(qoh[1].as_ref().unwrap(), &12);
        assert_eq!(qoh[2].as_ref().unwrap(), &13);
        // The items made are named as the shop names them (setup.sh: product "IT Tee",
        // variants titled by their Size): the fields the listing asks for are Medusa's own.
        for sku in &skus {
            let item = f.store.item(sku).unwrap();
            let size = sku.rsplit('-').next().unwrap();
            assert!(item.description.contains("IT Tee"), "{sku}: {item:?}");
            let attributes: serde_json::Value = serde_json::from_str(&item.attributes).unwrap();
            assert_eq!(attributes["Size"], size, "{sku}: {item:?}");
        }
        assert!(pages >= skus.len(), "{pages} pages");
        for sku in &skus {
            assert!(
                seen.iter().any(|(s, _)| s == sku),
                "{sku} missing: {seen:?}"
            );
        }
    }

    #[test]
    fn realtime_deltas_are_read_add_write_with_verify() {
        let f = fixture();
        let skus = skus();
        let (s, m) = (&skus[0], &skus[1]);
        f.admin.set_stocked(s, 10);
        f.admin.set_stocked(m, 4);
        f.item(s, 10);
        f.item(m, 4);
        let cart = f.cart();
        f.store.set_cart_sync(cart, true).unwrap();
        f.adjust(s, -3);
        f.adjust(s, 1);
        f.adjust(m, 5);
        f.drain();
        assert!(f.records(cart).is_empty(), "{:?}", f.records(cart));
        assert_eq!(f.admin.level(s), (8, 0, 8));
        assert_eq!(f.admin.level(m), (9, 0, 9));
        // A sale Medusa holds is not touched by a delta: the delta moves stocked, and
        // available follows.
        let hold = f.admin.reserve(m, 3);
        let a = adapter();
        assert_eq!(a.update_mode(), UpdateMode::Absolute);
        let out = a
            .apply_deltas(&[DeltaSend {
                key: "k1".into(),
                sku: m.clone(),
                remote_ref: None,
                delta: -2,
            }])
            .unwrap();
        let level = f.admin.level(m);
        f.admin.unreserve(&hold);
        assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(4) }]);
        assert_eq!(level, (7, 3, 4));
        // Below zero stocked is refused by Medusa; the adapter says so before writing, and
        // the change goes again with the item's later ones.
        let out = a
            .apply_deltas(&[DeltaSend {
                key: "k2".into(),
                sku: m.clone(),
                remote_ref: None,
                delta: -100,
            }])
            .unwrap();
        assert!(
            matches!(&out[0], SendOutcome::Retry { message, after: None }
                if message.contains("negative") && message.contains("not applied")),
            "{out:?}"
        );
        assert_eq!(f.admin.level(m).0, 7, "nothing written");
    }

    /// The SKUs of [`many_skus`]: 24 plain and one holding a comma.
    const MANY: usize = 25;

    fn many_sku(i: usize) -> String {
        match i {
            24 => "IT-MANY,24".to_owned(),
            _ => format!("IT-MANY-{i:02}"),
        }
    }

    /// Levels (stocked, reserved, available) at the test location of the items whose SKU
    /// starts with `IT-MANY`, by SKU, read through Medusa's free-text search (`q`), not its
    /// `sku` filter, which the adapter under test uses.
    fn many_levels(admin: &Admin) -> std::collections::HashMap<String, (i64, i64, i64)> {
        let v = admin.call(
            reqwest::Method::GET,
            "admin/inventory-items?q=IT-MANY&fields=id,sku,*location_levels&limit=200",
            None,
        );
        let mut out = std::collections::HashMap::new();
        for item in v["inventory_items"].as_array().unwrap() {
            let Some(l) = item["location_levels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["location_id"] == admin.location.as_str())
            else {
                continue;
            };
            let n = |k: &str| l[k].as_f64().unwrap() as i64;
            out.insert(
                item["sku"].as_str().unwrap().to_owned(),
                (
                    n("stocked_quantity"),
                    n("reserved_quantity"),
                    n("available_quantity"),
                ),
            );
        }
        out
    }

    /// A product of [`MANY`] variants stocked at the test location (made once a Medusa: the
    /// tests share it).
    fn many_skus(admin: &Admin) -> Vec<String> {
        let skus: Vec<String> = (0..MANY).map(many_sku).collect();
        if many_levels(admin).len() == MANY {
            return skus;
        }
        let variants: Vec<Value> = skus
            .iter()
            .enumerate()
            .map(|(i, sku)| {
                json!({"title": format!("Many {i}"), "sku": sku, "manage_inventory": true,
                    "options": {"Number": i.to_string()},
                    "prices": [{"currency_code": "usd", "amount": 10}]})
            })
            .collect();
        let values: Vec<String> = (0..MANY).map(|i| i.to_string()).collect();
        admin.call(
            reqwest::Method::POST,
            "admin/products",
            Some(json!({"title": "IT Many", "status": "published",
                "options": [{"title": "Number", "values": values}],
                "variants": variants})),
        );
        let v = admin.call(
            reqwest::Method::GET,
            "admin/inventory-items?q=IT-MANY&fields=id,sku&limit=200",
            None,
        );
        for item in v["inventory_items"].as_array().unwrap() {
            let id = item["id"].as_str().unwrap();
            admin.call(
                reqwest::Method::POST,
                &format!("admin/inventory-items/{id}/location-levels"),
                Some(json!({"location_id": admin.location, "stocked_quantity": 10})),
            );
        }
        assert_eq!(many_levels(admin).len(), MANY, "the product was made");
        skus
    }

    /// A call of more SKUs than a query may list (Express 4.22.0–4.22.1 cap one at 20) and a
    /// SKU holding a comma (Medusa reads a lone value as a comma-separated list) each reach
    /// their own items: Send QOH of 25 items in one batch, then real-time sales of 22 items
    /// at once and of the comma SKU alone.
    #[test]
    fn many_skus_at_once_and_a_sku_with_a_comma_reach_their_items() {
        let f = fixture();
        let skus = many_skus(&f.admin);
        for sku in &skus {
            f.item(sku, 5);
        }
        let mut spec = cart_json("env:MEDUSA_PASSWORD");
        spec["max_items_to_send"] = 50.into();
        let cart = f.store.upsert_cart_json(&spec.to_string()).unwrap();
        let report = f
            .store
            .send_qoh(cart, SendOptions { force: true }, None)
            .unwrap();
        assert_eq!((report.sent, report.failed), (MANY, 0), "{report:?}");
        let levels = many_levels(&f.admin);
        for sku in &skus {
            assert_eq!(levels[sku], (5, 0, 5), "{sku}");
        }
        f.store.set_cart_sync(cart, true).unwrap();
        for sku in &skus[..22] {
            f.adjust(sku, -1);
        }
        f.drain();
        assert!(f.records(cart).is_empty(), "{:?}", f.records(cart));
        f.adjust(&skus[24], -2);
        f.drain();
        assert!(f.records(cart).is_empty(), "{:?}", f.records(cart));
        let levels = many_levels(&f.admin);
        for (i, sku) in skus.iter().enumerate() {
            let want = match i {
                0..=21 => 4,
                24 => 3,
                _ => 5,
            };
            assert_eq!(levels[sku], (want, 0, want), "{sku}");
        }
    }

    #[test]
    fn unknown_sku_ends_with_a_clear_last_response() {
        let f = fixture();
        let real = &skus()[0];
        f.admin.set_stocked(real, 5);
        f.item(real, 5);
        f.item("IT-GHOST-404", 5);
        let cart = f.cart();
        f.store.set_cart_sync(cart, true).unwrap();
        f.adjust("IT-GHOST-404", -1);
        f.adjust(real, -1);
        f.drain();
        assert_eq!(f.admin.level(real).0, 4);
        let recs = f.records(cart);
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0]["sku"], "IT-GHOST-404");
        assert_eq!(recs[0]["state"], "bypassed");
        let last = recs[0]["last_response"].as_str().unwrap();
        assert!(
            last.contains("IT-GHOST-404") && last.contains("unknown SKU"),
            "{last}"
        );
        // Send QOH names it too, and still sends the others.
        let r = f
            .store
            .send_qoh(cart, SendOptions { force: true }, None)
            .unwrap();
        assert_eq!(r.sent, 1, "{r:?}");
        assert_eq!(r.failed, 1, "{r:?}");
        assert!(format!("{r:?}").contains("unknown SKU"), "{r:?}");
    }

    #[test]
    fn secrets_never_appear_in_any_output() {
        let f = fixture();
        let password = env("MEDUSA_PASSWORD");
        let sku = &skus()[0];
        f.admin.set_stocked(sku, 6);
        f.item(sku, 6);
        let wrong = "wr0ng-Medusa-Passw0rd";
        let cart = f
            .store
            .upsert_cart_json(&cart_json(wrong).to_string())
            .unwrap();
        let mut texts = Vec::new();
        let send = f.store.send_qoh(cart, SendOptions { force: true }, None);
        texts.push(format!("{send:?}"));
        let get = f.store.get_qoh(
            cart,
            GetOptions {
                force: true,
                create_new: false,
            },
            None,
        );
        texts.push(format!("{get:?}"));
        f.store.set_cart_sync(cart, true).unwrap();
        f.adjust(sku, -1);
        let run = f.store.run_stack(None).unwrap();
        texts.push(run.to_json());
        let refused = texts.join("\n");
        assert!(
            refused.contains("not authorised") || refused.contains("401"),
            "{refused}"
        );
        // The right password: the waiting delta goes through.
        f.cart();
        f.store.set_cart_sync(cart, true).unwrap();
        f.drain();
        assert_eq!(f.admin.level(sku).0, 5);
        // And a secret API key, as the HTTP Basic user name: the same cart given one (a
        // second cart for the same shop and location is refused).
        let key = f.admin.create_secret_key();
        let key_cart = f
            .store
            .upsert_cart_json(
                &json!({"name": "Medusa", "adapter": "medusa", "url": env("MEDUSA_URL"),
                    "api_key": key, "location_id": env("MEDUSA_LOCATION_ID")})
                .to_string(),
            )
            .unwrap();
        let got = f
            .store
            .get_qoh(
                key_cart,
                GetOptions {
                    force: true,
                    create_new: false,
                },
                None,
            )
            .unwrap();
        texts.push(format!("{got:?}"));
        assert_eq!(f.store.item_qoh(sku).unwrap(), 5);
        let bad_key = f
            .store
            .upsert_cart_json(
                &json!({"name": "Medusa", "adapter": "medusa", "url": env("MEDUSA_URL"),
                    "api_key": "sk_wr0ng0000000000000000", "location_id": env("MEDUSA_LOCATION_ID")})
                .to_string(),
            )
            .unwrap();
        let e = f.store.get_qoh(
            bad_key,
            GetOptions {
                force: true,
                create_new: false,
            },
            None,
        );
        let e = format!("{e:?}");
        assert!(e.contains("401") || e.contains("not authorised"), "{e}");
        texts.push(e);
        texts.push(f.store.stack_list_json(None).unwrap());
        texts.push(f.store.carts_json().unwrap());
        for c in f.store.carts().unwrap() {
            texts.push(format!("{c:?} {}", c.info()));
        }
        texts.push(format!("{:?}", f.store.controller_status()));
        texts.push(format!("{:?}", adapter()));
        let all = texts.join("\n");
        for s in [wrong, password.as_str(), key.as_str(), "sk_wr0ng", "eyJ"] {
            assert!(!all.contains(s), "a secret leaked ({s:.3}…): {all}");
        }
        assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 0);
    }

    #[test]
    fn send_qoh_of_250_items_in_batches() {
        let f = fixture();
        // 250 new inventory items at the test location, named for this run.
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let skus: Vec<String> = (0..250).map(|i| format!("BULK-{run}-{i:03}")).collect();
        let mut create = Vec::new();
        for sku in &skus {
            let v = f.admin.call(
                reqwest::Method::POST,
                "admin/inventory-items",
                Some(json!({"sku": sku})),
            );
            let id = v["inventory_item"]["id"].as_str().unwrap().to_owned();
            create.push(json!({"inventory_item_id": id, "location_id": f.admin.location, "stocked_quantity": 0}));
        }
        f.admin.call(
            reqwest::Method::POST,
            "admin/inventory-items/location-levels/batch",
            Some(json!({"create": create})),
        );
        for (i, sku) in skus.iter().enumerate() {
            f.item(sku, i as i64 + 1);
        }
        // The cart's own limit first (250 in one batch: the adapter splits it at Medusa's
        // batch size), then a smaller one (50 a batch: 5 requests).
        let mut json = cart_json("env:MEDUSA_PASSWORD");
        for (max, requests) in [(250, 1), (50, 5)] {
            json["max_items_to_send"] = max.into();
            let cart = f.store.upsert_cart_json(&json.to_string()).unwrap();
            let mut calls = 0;
            let mut progress = |_: i64, _: i64| {
                calls += 1;
                true
            };
            let report = f
                .store
                .send_qoh(cart, SendOptions { force: true }, Some(&mut progress))
                .unwrap();
            assert_eq!(report.failed, 0, "{report:?}");
            assert_eq!(report.sent, 250, "{report:?}");
            assert_eq!(report.requests, requests, "{report:?}");
            for (i, sku) in skus.iter().enumerate().step_by(23) {
                assert_eq!(f.admin.level(sku).0, i as i64 + 1, "{sku} at max {max}");
            }
            assert_eq!(f.admin.level(&skus[249]).2, 250);
        }
    }

    /// Medusa's admin API as the conformance check's test cart: a count is what Medusa
    /// offers (stocked less held) at the test location.
    impl inventory_sync::adapter::conformance::TestCart for Admin {
        fn put(&self, sku: &str, count: i64) -> Result<(), String> {
            let (_, reserved, _) = self.level(sku);
            self.set_stocked(sku, count + reserved);
            Ok(())
        }
        fn count(&self, sku: &str) -> Result<Option<i64>, String> {
            let v = self.call(
                reqwest::Method::GET,
                &format!("admin/inventory-items?sku={sku}&fields=id"),
                None,
            );
            Ok(match v["inventory_items"].as_array().map_or(0, Vec::len) {
                0 => None,
                _ => Some(self.level(sku).2),
            })
        }
    }

    /// The conformance check an integrator runs, against a real Medusa: the built-in adapter
    /// keeps every rule of the contract that applies to a cart without keys.
    #[test]
    fn the_medusa_adapter_passes_the_conformance_check() {
        use inventory_sync::adapter::conformance::{check, CheckOptions};
        let f = fixture();
        let options = CheckOptions {
            skus: skus(),
            // Medusa lists the 250 items of the batch test too: pages of 50 are several.
            page_limit: 50,
            secrets: vec![env("MEDUSA_PASSWORD")],
            ..Default::default()
        };
        let report = check(&adapter(), &f.admin, &options);
        assert!(report.passed(), "{report}");
        let wrong = "wr0ng-Medusa-Passw0rd";
        let refused = MedusaAdapter::new(
            &env("MEDUSA_URL"),
            MedusaAuth::EmailPass {
                email: env("MEDUSA_EMAIL"),
                password: Secret::new(wrong),
            },
            &env("MEDUSA_LOCATION_ID"),
            Duration::from_secs(30),
        )
        .unwrap();
        let report = inventory_sync::adapter::conformance::check_refused_credentials(
            &refused,
            &[wrong],
            &options,
        );
        assert!(report.passed(), "{report}");
    }
}
