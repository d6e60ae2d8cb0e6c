// An order manager's integration of the wrapper, written from the docs alone (README "For C,
// .NET and VBA hosts", bindings/, include/inventory_sync.h): a small shop's back office with
// two web carts on the loopback emulator, and what its screens let a user type. Each test
// says what an integrator relies on; the ones named for a finding failed before its fix.
// Compiled with mcs and run under mono by .ci/ffi.sh, beside InventorySyncTests.cs (its own
// Main, so built on its own); prints "N passed, N failed" last, exits non-zero on failure.

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using InventorySync;

namespace DotnetTrial
{
    // TEST ONLY: the loopback cart of a library built with the emulator feature, declared as
    // the header declares it (the wrapper leaves the test functions out).
    sealed class WebCart : IDisposable
    {
        [DllImport(Native.Lib, CallingConvention = CallingConvention.Cdecl)]
        static extern int invsync_emulator_start(out IntPtr h);
        [DllImport(Native.Lib, CallingConvention = CallingConvention.Cdecl)]
        static extern int invsync_emulator_url(IntPtr h, byte[] buf, int len, out int needed);
        [DllImport(Native.Lib, CallingConvention = CallingConvention.Cdecl)]
        static extern int invsync_emulator_set_qoh(IntPtr h, byte[] sku, int qoh);
        [DllImport(Native.Lib, CallingConvention = CallingConvention.Cdecl)]
        static extern int invsync_emulator_qoh(IntPtr h, byte[] sku, out int qoh);
        [DllImport(Native.Lib, CallingConvention = CallingConvention.Cdecl)]
        static extern void invsync_emulator_stop(IntPtr h);

        IntPtr h;

        public WebCart() { Native.Check(invsync_emulator_start(out h)); }

        public string Url
        {
            get
            {
                byte[] buf = new byte[256];
                int n;
                Native.Check(invsync_emulator_url(h, buf, buf.Length, out n));
                return Native.FromUtf8(buf);
            }
        }

        public void SetQoh(string sku, int qoh) { Native.Check(invsync_emulator_set_qoh(h, Native.Utf8(sku), qoh)); }

        /// <summary>The cart's count, or null when it does not list the SKU.</summary>
        public int? Qoh(string sku)
        {
            int q;
            int st = invsync_emulator_qoh(h, Native.Utf8(sku), out q);
            if (st == (int)Status.NotFound) return null;
            Native.Check(st);
            return q;
        }

        public void Dispose() { invsync_emulator_stop(h); h = IntPtr.Zero; }
    }

    // TEST ONLY: an http_json cart that holds each write's answer until the test lets it go,
    // so a test can act while a request is on its way (no sleeps: events).
    sealed class HeldCart : IDisposable
    {
        readonly HttpListener listener = new HttpListener();
        public readonly string Url;
        public readonly ManualResetEventSlim Arrived = new ManualResetEventSlim();
        public readonly ManualResetEventSlim Release = new ManualResetEventSlim();

        public HeldCart()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = "http://127.0.0.1:" + port + "/";
            listener.Prefixes.Add(Url);
            listener.Start();
            new Thread(Serve) { IsBackground = true }.Start();
        }

        void Serve()
        {
            while (listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = listener.GetContext(); } catch { return; }
                string body = new StreamReader(ctx.Request.InputStream).ReadToEnd();
                Arrived.Set();
                Release.Wait();
                // Every key the request carries, answered as applied at the count sent.
                var answer = new StringBuilder("{\"results\":[");
                int i = 0;
                foreach (Match m in Regex.Matches(body, "\"key\":\"([^\"]+)\",\"sku\":\"([^\"]+)\",\"qoh\":(-?\\d+)"))
                {
                    answer.Append(i++ > 0 ? "," : "").Append("{\"key\":\"" + m.Groups[1].Value + "\",\"sku\":\"" + m.Groups[2].Value +
                                                               "\",\"status\":\"applied\",\"qoh\":" + m.Groups[3].Value + "}");
                }
                answer.Append("]}");
                byte[] b = Encoding.UTF8.GetBytes(answer.ToString());
                ctx.Response.ContentType = "application/json";
                ctx.Response.ContentLength64 = b.Length;
                ctx.Response.OutputStream.Write(b, 0, b.Length);
                ctx.Response.Close();
            }
        }

        public void Dispose()
        {
            Release.Set();
            try { listener.Stop(); } catch { }
        }
    }

    static class Trial
    {
        static int passed, failed;
        static string dir;

        static void Check(bool cond, string what)
        {
            if (cond) { passed++; return; }
            failed++;
            Console.Error.WriteLine("FAIL: " + what);
        }

        // What a UI does with a failure: show its message. The message must say what was
        // wrong in words a user can act on (`mustSay`), and come with the right status.
        static void ShowsUser(Status want, Action call, string what, params string[] mustSay)
        {
            try
            {
                call();
                failed++;
                Console.Error.WriteLine("FAIL: " + what + ": no exception, expected " + want);
            }
            catch (InventorySyncException e)
            {
                bool says = true;
                foreach (var s in mustSay) says &= e.Message.Contains(s);
                Check(e.Status == want && says, what + ": " + e.Status + " \"" + e.Message + "\", expected " + want +
                                                " saying " + string.Join(", ", mustSay));
            }
        }

        static string CartJson(string name, string url, string realtime, int max)
        {
            return "{\"name\":" + Native.JsonString(name) + ",\"adapter\":\"http_json\",\"url\":" + Native.JsonString(url) +
                   ",\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"" + realtime + "\"},\"max_items_to_send\":" + max + "}";
        }

        static string Item(string sku, int? qoh, string parent = null, string size = null, string description = null)
        {
            var j = new StringBuilder("{\"sku\":" + Native.JsonString(sku));
            if (qoh.HasValue) j.Append(",\"qoh\":" + qoh.Value);
            if (parent != null) j.Append(",\"parent_sku\":" + Native.JsonString(parent));
            if (size != null) j.Append(",\"attributes\":{\"Size\":" + Native.JsonString(size) + "}");
            if (description != null) j.Append(",\"description\":" + Native.JsonString(description));
            return j.Append("}").ToString();
        }

        // The first whole number a JSON report gives `key` (the reports are flat enough).
        static int Num(string json, string key)
        {
            var m = Regex.Match(json, "\"" + key + "\":(-?\\d+)");
            return m.Success ? int.Parse(m.Groups[1].Value) : int.MinValue;
        }

        static List<int> Ids(string stackJson)
        {
            var ids = new List<int>();
            foreach (Match m in Regex.Matches(stackJson, "\"id\":(\\d+)")) ids.Add(int.Parse(m.Groups[1].Value));
            return ids;
        }

        // The whole back office: items with a product and variants, two real-time carts, the
        // day's sales, receiving, a web order, a return, a count that stays off the web; the
        // stack run once and by the background controller; the troubleshooting screen; Send
        // and Get QOH; the preflight of a third cart.
        static void BackOffice()
        {
            using (var webA = new WebCart())
            using (var webB = new WebCart())
            using (var store = Store.Open(Path.Combine(dir, "backoffice.db")))
            {
                store.SetParam("RetryBaseMs", "0");
                int a = store.UpsertCart(CartJson("Web A", webA.Url, "attribute", 50));
                int b = store.UpsertCart(CartJson("Web B", webB.Url, "sku", 2));
                store.UpsertItem(Item("MUG", 20, description: "Mug 12 oz"));
                store.UpsertItem(Item("TEE", null, description: "T-shirt"));
                store.UpsertItem(Item("TEE-M", 10, "TEE", "M"));
                store.UpsertItem(Item("TEE-L", 5, "TEE", "L"));
                foreach (var w in new[] { webA, webB }) w.SetQoh("MUG", 20);
                webA.SetQoh("TEE-M", 10);
                webA.SetQoh("TEE-L", 5);
                webB.SetQoh("TEE", 15);
                Check(store.Preflight(a) == "[]" && store.Preflight(b) == "[]", "both carts in step before real-time is on");
                store.SetParam("SynchQOH", "true");
                store.SetCartSync(a, true);
                store.SetCartSync(b, true);

                store.AdjustQohRef("MUG", -2, Reason.PosSale, "POS-1/1");
                store.AdjustQohRef("MUG", -2, Reason.PosSale, "POS-1/1");    // retried after a crash
                store.AdjustQohRef("TEE-M", 12, Reason.Receiving, "PO-9/1");
                store.AdjustQohRef("TEE-L", -1, Reason.OrderImport, "WEBA-1001/1", a);
                store.AdjustQohRef("MUG", 1, Reason.Return, "RMA-5/1");
                store.AdjustQohRef("MUG", -1, Reason.Adjustment, "COUNT-3", 0, Store.AdjustNoWeb);
                Check(store.ItemQoh("MUG") == 18 && store.ItemQoh("TEE-M") == 22 && store.ItemQoh("TEE-L") == 4, "store counts");
                ShowsUser(Status.Refused, () => store.AdjustQoh("TEE", 1, Reason.Adjustment), "a product with variants",
                          "TEE", "adjust a variant");

                string report = store.RunStack();
                Check(Num(report, "sent") == 7 && Num(report, "remaining") == 0, "one pass sends every change: " + report);
                Check(webA.Qoh("MUG") == 19 && webA.Qoh("TEE-M") == 22 && webA.Qoh("TEE-L") == 5,
                      "cart A: sale, return, receiving; its own order and the count not sent to it");
                Check(webB.Qoh("MUG") == 19 && webB.Qoh("TEE") == 26, "cart B (Sku level): the product's total");

                // A sale of a SKU cart B does not list is bypassed: the troubleshooting screen
                // shows it, the operator retries it once it is listed, discards another.
                store.UpsertItem(Item("CAP", 4));
                webA.SetQoh("CAP", 4);
                store.AdjustQoh("CAP", -1, Reason.PosSale);
                report = store.RunStack();
                Check(Num(report, "bypassed") == 1, "a SKU the cart lacks is bypassed: " + report);
                string bypassed = store.StackList("{\"state\":\"bypassed\"}");
                Check(bypassed.Contains("\"sku\":\"CAP\"") && bypassed.Contains("unknown_sku"), "the screen says why: " + bypassed);
                Check(store.StackCount(b, StackState.Bypassed) == 1, "bypassed count");
                webB.SetQoh("CAP", 4);
                store.StackRetry(Ids(bypassed)[0]);
                report = store.RunStack();
                Check(Num(report, "sent") == 1 && webB.Qoh("CAP") == 3, "a retried record is sent: " + report);
                store.AdjustQoh("CAP", -1, Reason.PosSale);
                webB.Dispose();   // cart B goes down for good
                int tries = 0;
                while (store.StackCount(b, StackState.Bypassed) == 0 && tries++ < 20)
                {
                    store.SetParam("BypassAfterAttempts", "1");
                    store.RunStack();
                }
                bypassed = store.StackList("{\"cart_id\":" + b + ",\"state\":2}");
                Check(Ids(bypassed).Count == 1, "cart B's sale is bypassed after its attempts: " + bypassed);
                store.StackDiscard(Ids(bypassed)[0]);
                Check(store.StackCount(b, StackState.Bypassed) == 0, "discarded");
                store.SetCartSync(b, false);

                // The background controller sends a sale made while it runs.
                store.AdjustQoh("MUG", -3, Reason.PosSale);
                store.StartController(20);
                ShowsUser(Status.Refused, () => store.StartController(20), "a second controller", "already");
                // Waits on what the cart shows; the deadline only ends a failing run.
                var deadline = System.Diagnostics.Stopwatch.StartNew();
                while (webA.Qoh("MUG") != 16 && deadline.ElapsedMilliseconds < 60000)
                    Thread.Yield();
                store.StopController();
                string status = store.ControllerStatus();
                Check(webA.Qoh("MUG") == 16 && status.Contains("\"running\":false") && Num(status, "passes") >= 1,
                      "the controller sent the sale: " + status);

                // Send QOH, cancelled from the progress callback, then whole; Get QOH
                // creating a product the cart lists and the store lacks.
                store.SetCartSync(a, false);
                store.UpsertCart(CartJson("Web A", webA.Url, "attribute", 2));   // two items a request
                int calls = 0;
                report = store.SendQoh(a, 0, (done, total) => { calls++; return false; });
                Check(calls == 1 && report.Contains("\"cancelled\":true") && Num(report, "requests") == 1, "Cancel stops the send: " + report);
                var seen = new List<int>();
                report = store.SendQoh(a, 0, (done, total) => { seen.Add(done); return true; });
                Check(report.Contains("\"cancelled\":false") && Num(report, "failed") == 0 && seen.Count == 2 && webA.Qoh("MUG") == 15,
                      "Send QOH sets the count the no-web adjustment left: " + report);
                webA.SetQoh("BAG", 6);
                webA.SetQoh("MUG", 14);   // a web sale the store has not imported
                report = store.GetQoh(a, Store.GetCreateNew);
                Check(Num(report, "created") == 1 && Num(report, "updated") == 1 && store.ItemQoh("BAG") == 6 && store.ItemQoh("MUG") == 14,
                      "Get QOH applies the web sale and creates BAG: " + report);
                Check(store.LedgerList("{\"sku\":\"MUG\",\"limit\":1}").Contains("\"origin_cart_id\":" + a), "the ledger names the cart");
            }
        }

        // Finding: SendQoh's CancellationToken overload, given a token cancelled before the
        // call (the user pressed Cancel while the form was still starting the run), sent the
        // cart a first batch of counts: the library asks the callback only after a batch.
        static void CancelledTokenSendsNothing()
        {
            using (var web = new WebCart())
            using (var store = Store.Open(Path.Combine(dir, "cancelled.db")))
            {
                int c = store.UpsertCart(CartJson("Web", web.Url, "none", 1));
                store.UpsertItem(Item("A", 7));
                store.UpsertItem(Item("B", 7));
                web.SetQoh("A", 0);
                web.SetQoh("B", 0);
                var cts = new CancellationTokenSource();
                cts.Cancel();
                Exception thrown = null;
                try { store.SendQoh(c, 0, null, cts.Token); }
                catch (Exception e) { thrown = e; }
                Check(thrown is OperationCanceledException, "a cancelled token throws OperationCanceledException: " + thrown);
                Check(web.Qoh("A") == 0 && web.Qoh("B") == 0, "a send cancelled before it began sends nothing (A " + web.Qoh("A") + ")");
                // Get QOH takes a token too, as Send QOH does.
                web.SetQoh("A", 3);
                thrown = null;
                try { store.GetQoh(c, 0, null, cts.Token); }
                catch (Exception e) { thrown = e; }
                Check(thrown is OperationCanceledException && store.ItemQoh("A") == 7, "a cancelled Get QOH reads nothing");
                string report = store.GetQoh(c, 0, null, CancellationToken.None);
                Check(Num(report, "updated") == 2 && store.ItemQoh("A") == 3, "Get QOH with a token that stays: " + report);
            }
        }

        // Finding: a call on a closed store (a form that kept its Store after the using block)
        // threw ObjectDisposedException "Safe handle has been closed": no word of what was
        // closed, nor what to do. It now names the Store and says to open it again.
        static void ClosedStoreSaysWhat()
        {
            var store = Store.Open(Path.Combine(dir, "closed.db"));
            store.UpsertItem(Item("A", 1));
            store.Dispose();
            foreach (var call in new KeyValuePair<string, Action>[]
            {
                new KeyValuePair<string, Action>("ItemQoh", () => store.ItemQoh("A")),
                new KeyValuePair<string, Action>("RunStack", () => store.RunStack()),
                new KeyValuePair<string, Action>("SendQoh", () => store.SendQoh(1)),
            })
            {
                ObjectDisposedException e = null;
                try { call.Value(); }
                catch (ObjectDisposedException x) { e = x; }
                Check(e != null && e.ObjectName == "InventorySync.Store" && e.Message.Contains("Store.Open"),
                      call.Key + " on a closed store: " + (e == null ? "no exception" : e.Message));
            }
            store.Dispose();   // a second Dispose is harmless
        }

        // Finding: the calls take JSON, and the wrapper gave no way to put a user's text in it:
        // a SKU typed as PIZZA-12" or a description with a line break pasted by hand is bad
        // JSON, and a description ending in ","qoh":999," sets keys of its own.
        static void UserTextInJson()
        {
            using (var store = Store.Open(Path.Combine(dir, "json.db")))
            {
                string sku = "PIZZA-12\"";
                string description = "12\" base\r\nC:\\menu\\pizza \u2013 \"large\"\t\u0001";
                store.UpsertItem(Item(sku, 4, description: description));
                Check(store.ItemQoh(sku) == 4, "a SKU holding a quote");
                string list = store.ItemList("{\"sku_prefix\":" + Native.JsonString("PIZZA-12\"") + "}");
                Check(list.Contains(Native.JsonString(description)), "the description comes back as typed: " + list);
                string sneaky = "x\",\"qoh\":999,\"parent_sku\":\"";
                store.UpsertItem(Item("PLAIN", 1, description: sneaky));
                Check(store.ItemQoh("PLAIN") == 1 && store.ItemList("{\"sku_prefix\":\"PLAIN\"}").Contains("\"parent_sku\":null"),
                      "text that looks like keys stays text");
                Check(Native.JsonString(null) == "null", "null is JSON null");
            }
        }

        // Finding: the drift report was Rust only ("the C ABI has no drift call yet"); a host
        // could only read the preflight's drift warnings and overwrite the cart with a forced
        // Send QOH, which a sale made on the cart meanwhile does not survive.
        static void DriftReport()
        {
            using (var web = new WebCart())
            using (var store = Store.Open(Path.Combine(dir, "drift.db")))
            {
                int c = store.UpsertCart(CartJson("Web", web.Url, "attribute", 50));
                store.UpsertItem(Item("A", 5));
                store.UpsertItem(Item("B", 8));
                store.UpsertItem(Item("C", 2));
                web.SetQoh("A", 5);
                web.SetQoh("B", 8);
                store.SetParam("SynchQOH", "true");
                store.SetCartSync(c, true);
                web.SetQoh("B", 6);   // someone edited the count in the shop's admin
                string report = null;
                try { report = store.Drift(c); }
                catch (EntryPointNotFoundException e) { report = "no invsync_drift: " + e.Message; }
                Check(report.Contains("\"sku\":\"B\"") && Num(report, "in_step") == 1 && report.Contains("\"unlisted\":[\"C\"]") &&
                      Num(report, "repaired") == 0, "drift report while real-time is on: " + report);
                Check(web.Qoh("B") == 6, "a report alone changes nothing");
                Check(store.LastReport() == report, "the report is kept for LastReport");
                report = store.Drift(c, repair: true);
                Check(Num(report, "repaired") == 1 && web.Qoh("B") == 8, "repair sets the count: " + report);
                Check(store.Drift(c).Contains("\"items\":[]"), "in step after the repair");
                ShowsUser(Status.NotFound, () => store.Drift(99), "drift of an unknown cart", "cart 99");
                store.Begin();
                ShowsUser(Status.Refused, () => store.Drift(c), "drift inside a host transaction", "transaction");
                store.Rollback();
            }
        }

        // What a form lets a user type, each shown as the library's message.
        static void WrongInput()
        {
            using (var web = new WebCart())
            using (var store = Store.Open(Path.Combine(dir, "input.db")))
            {
                int c = store.UpsertCart(CartJson("Web", web.Url, "attribute", 50));
                ShowsUser(Status.InvalidArgument, () => store.UpsertItem(Item("", 1)), "an empty SKU", "SKU is empty");
                ShowsUser(Status.InvalidArgument, () => store.UpsertItem(Item("   ", 1)), "a blank SKU", "SKU");
                string emoji = "CUP-\u2615-\uD83D\uDE00";
                store.UpsertItem(Item(emoji, 3));
                store.AdjustQohRef(emoji, -1, Reason.PosSale, "POS-\uD83D\uDE00/1");
                Check(store.ItemQoh(emoji) == 2 && store.LedgerList("{\"sku\":" + Native.JsonString(emoji) + "}").Contains("POS-\uD83D\uDE00/1"),
                      "an emoji SKU and reference round-trip");
                bool cut = false;
                try { store.ItemQoh(emoji.Substring(0, emoji.Length - 1)); }
                catch (ArgumentException) { cut = true; }
                Check(cut, "a SKU cut inside the emoji is refused before it reaches the library");
                string longSku = new string('X', 300);
                ShowsUser(Status.InvalidArgument, () => store.UpsertItem(Item(longSku, 1)), "a 300-character SKU", "255 bytes");
                ShowsUser(Status.InvalidArgument, () => store.AdjustQoh(longSku, 1, Reason.Receiving), "adjusting a 300-character SKU", "255 bytes");
                // The limit is in bytes (the header says so since 2026-12-04; it named 64 KiB).
                store.UpsertItem(Item(new string('Y', 255), 1));
                ShowsUser(Status.InvalidArgument, () => store.UpsertItem(Item(new string('\u00e9', 128), 1)),
                          "128 accented letters (256 bytes)", "255 bytes");
                ShowsUser(Status.NotFound, () => store.ItemQoh("NOPE-\uD83D\uDE00"), "an unknown emoji SKU, named whole in the message",
                          "NOPE-\uD83D\uDE00");
                ShowsUser(Status.InvalidArgument, () => store.UpsertCart(CartJson("Neg", web.Url + "neg", "none", -1)), "max items -1",
                          "max_items_to_send", "1 to 10000");
                ShowsUser(Status.InvalidArgument, () => store.RunStack(-1), "a negative max records", "max_records");
                ShowsUser(Status.NotFound, () => store.SendQoh(999), "Send QOH to an unknown cart", "cart 999");
                ShowsUser(Status.NotFound, () => store.GetQoh(999), "Get QOH from an unknown cart", "cart 999");
                ShowsUser(Status.NotFound, () => store.Preflight(999), "preflight of an unknown cart", "cart 999");
                ShowsUser(Status.NotFound, () => store.AdjustQoh(emoji, -1, Reason.OrderImport, 999), "an order from an unknown cart", "cart 999");
                ShowsUser(Status.InvalidArgument, () => store.SendQoh(0), "cart id 0", "cart_id 0");
                ShowsUser(Status.NotFound, () => store.StackRetry(12345), "retry of an unknown record", "12345");
                ShowsUser(Status.InvalidArgument, () => store.SendQoh(c, Store.GetCreateNew), "a Get flag given to Send", "flags");
                ShowsUser(Status.InvalidArgument, () => store.StartController(0), "controller interval 0", "interval_ms");
                ShowsUser(Status.InvalidArgument, () => store.SetParam("BypassAfterAttempts", "ten"), "a parameter typed as words",
                          "BypassAfterAttempts");
            }
        }

        // A POS till (one thread) sells while the back office (another) runs Send QOH, Get
        // QOH, the stack or the preflight against a slow cart: the sale must not wait for
        // the cart. A thread that does not return within 20 s counts as blocked.
        static void TwoThreads()
        {
            foreach (string mode in new[] { "send", "run", "preflight" })
            {
                using (var cart = new HeldCart())
                using (var store = Store.Open(Path.Combine(dir, "threads-" + mode + ".db")))
                {
                    int c = store.UpsertCart(CartJson("Slow", cart.Url, mode == "run" ? "attribute" : "none", 50));
                    store.UpsertItem(Item("A", 5));
                    store.UpsertItem(Item("B", 5));
                    if (mode == "run")
                    {
                        store.SetParam("SynchQOH", "true");
                        store.SetCartSync(c, true);
                        store.AdjustQoh("A", -1, Reason.PosSale);
                    }
                    Exception backOffice = null;
                    var worker = new Thread(() =>
                    {
                        try
                        {
                            if (mode == "send") store.SendQoh(c);
                            else if (mode == "run") store.RunStack();
                            else store.Preflight(c);
                        }
                        catch (Exception e) { backOffice = e; }
                    });
                    worker.Start();
                    Check(cart.Arrived.Wait(20000), mode + ": the request reached the cart");
                    Exception tillError = null;
                    var till = new Thread(() =>
                    {
                        try { store.AdjustQoh("B", -1, Reason.PosSale); }
                        catch (Exception e) { tillError = e; }
                    });
                    till.Start();
                    bool returned = till.Join(20000);
                    cart.Release.Set();
                    worker.Join();
                    till.Join();
                    Check(returned && tillError == null && store.ItemQoh("B") == 4,
                          mode + ": a sale on another thread does not wait for the cart (" + (tillError != null ? tillError.Message : returned ? "ok" : "blocked") + ")");
                    Check(backOffice == null || backOffice is InventorySyncException, mode + ": " + backOffice);
                }
            }
        }

        // A progress callback may read the store (a form refreshing its grid) and its
        // exception reaches the caller with its own type and message, not a status.
        static void CallbackUsesTheStoreAndThrows()
        {
            using (var web = new WebCart())
            using (var store = Store.Open(Path.Combine(dir, "callback.db")))
            {
                int c = store.UpsertCart(CartJson("Web", web.Url, "none", 1));
                store.UpsertItem(Item("A", 2));
                store.UpsertItem(Item("B", 3));
                web.SetQoh("A", 0);
                web.SetQoh("B", 0);
                int readInside = -1;
                store.SendQoh(c, 0, (done, total) => { readInside = store.ItemQoh("B"); return true; });
                Check(readInside == 3, "the store answers from inside the callback");
                string message = null;
                try { store.GetQoh(c, 0, (done, total) => { throw new FormatException("grid refresh failed"); }); }
                catch (FormatException e) { message = e.Message; }
                Check(message == "grid refresh failed", "the callback's own exception comes back: " + message);
                Check(store.ItemQoh("A") == 2, "and its Get QOH applied nothing");
            }
        }

        // Doc gap: a transaction is the handle's, so a till's sale made on a shared Store by
        // another thread while an import's transaction is open is undone by its rollback,
        // though the sale returned OK. What the wrapper now says to do: the import on a Store
        // of its own; the till's sale then waits for it and survives its rollback, in either
        // order.
        static void ImportOnItsOwnStore()
        {
            string path = Path.Combine(dir, "import.db");
            using (var shared = Store.Open(path))
            using (var import = Store.Open(path))
            {
                shared.UpsertItem(Item("A", 10));
                import.Begin();
                import.AdjustQoh("A", 5, Reason.Receiving);
                Exception tillError = null;
                var till = new Thread(() =>
                {
                    try { shared.AdjustQohRef("A", -1, Reason.PosSale, "TILL-1/1"); }
                    catch (Exception e) { tillError = e; }
                });
                till.Start();
                import.Rollback();   // the import failed
                till.Join();
                Check(tillError == null && shared.ItemQoh("A") == 9,
                      "the till's sale survives the import's rollback (QOH " + shared.ItemQoh("A") + ", " + tillError + ")");
            }
        }

        // Finding: deleting a cart whose shop is gone said "discard them first", and each
        // waiting record's discard was refused. The message now says what waits and how it
        // goes; following it deletes the cart.
        static void DeleteADeadCart()
        {
            using (var store = Store.Open(Path.Combine(dir, "deadcart.db")))
            {
                int c = store.UpsertCart(CartJson("Gone", "http://127.0.0.1:9/", "attribute", 50));
                store.UpsertItem(Item("A", 5));
                store.SetParam("SynchQOH", "true");
                store.SetParam("RetryBaseMs", "0");
                store.SetCartSync(c, true);
                store.AdjustQoh("A", -1, Reason.PosSale);
                ShowsUser(Status.Refused, () => store.DeleteCart(c), "deleting a cart with a waiting sale",
                          "1 still waiting to be sent", "once bypassed", "BypassAfterAttempts");
                store.SetParam("BypassAfterAttempts", "1");
                for (int i = 0; i < 20 && store.StackCount(c, StackState.Bypassed) == 0; i++)
                    store.RunStack();
                foreach (int id in Ids(store.StackList("{\"cart_id\":" + c + ",\"state\":\"bypassed\"}")))
                    store.StackDiscard(id);
                store.DeleteCart(c);
                Check(!store.CartList().Contains("Gone"), "the dead cart is deleted");
            }
        }

        static int Main()
        {
            dir = Path.Combine(Path.GetTempPath(), "invsync-trial-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var tests = new List<KeyValuePair<string, Action>>
            {
                new KeyValuePair<string, Action>("back office", BackOffice),
                new KeyValuePair<string, Action>("cancelled token sends nothing", CancelledTokenSendsNothing),
                new KeyValuePair<string, Action>("closed store says what", ClosedStoreSaysWhat),
                new KeyValuePair<string, Action>("user text in JSON", UserTextInJson),
                new KeyValuePair<string, Action>("drift report", DriftReport),
                new KeyValuePair<string, Action>("wrong input", WrongInput),
                new KeyValuePair<string, Action>("two threads", TwoThreads),
                new KeyValuePair<string, Action>("callback uses the store and throws", CallbackUsesTheStoreAndThrows),
                new KeyValuePair<string, Action>("import on its own store", ImportOnItsOwnStore),
                new KeyValuePair<string, Action>("delete a dead cart", DeleteADeadCart),
            };
            foreach (var t in tests)
            {
                try { t.Value(); }
                catch (Exception e)
                {
                    failed++;
                    Console.Error.WriteLine("FAIL: " + t.Key + " threw " + e);
                }
            }
            try { Directory.Delete(dir, true); } catch (IOException) { }
            Console.WriteLine("dotnet trial: " + passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }
    }
}
