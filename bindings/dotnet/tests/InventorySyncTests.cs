// The .NET wrapper against the real library (built with the cargo feature "emulator"): the
// scenario of tests/c/test_ffi.c through the wrapper, and its error paths. Compiled with mcs
// and run under mono by .ci/ffi.sh; prints "N passed, N failed" last, exits non-zero on
// failure.

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using InventorySync;

// TEST ONLY: the loopback cart the library exports when built with the emulator feature.
sealed class Emulator : IDisposable
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

    public Emulator()
    {
        Native.Check(invsync_emulator_start(out h));
    }

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

    public int Qoh(string sku)
    {
        int q;
        Native.Check(invsync_emulator_qoh(h, Native.Utf8(sku), out q));
        return q;
    }

    public void Dispose()
    {
        invsync_emulator_stop(h);
        h = IntPtr.Zero;
    }
}

// TEST ONLY: an http_json cart that counts how often its catalogue is read (GET /qoh). It
// lists ITEM-0000.. at 3, so a store holding them at 10 gets one drift warning per item.
sealed class CountingCart : IDisposable
{
    readonly HttpListener listener = new HttpListener();
    public readonly string Url;
    public int Reads;
    public int Items;
    public int GrowPerRead;

    public CountingCart(int items)
    {
        Items = items;
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
            var body = new StringBuilder("{\"results\":[]}");
            if (ctx.Request.HttpMethod == "GET" && ctx.Request.Url.AbsolutePath == "/qoh")
            {
                Interlocked.Increment(ref Reads);
                int n = Items;
                Items += GrowPerRead;
                body = new StringBuilder("{\"items\":[");
                for (int i = 0; i < n; i++)
                    body.Append((i > 0 ? "," : "") + "{\"sku\":\"ITEM-" + i.ToString("D4") + "\",\"qoh\":3}");
                body.Append("],\"next_cursor\":null}");
            }
            byte[] b = Encoding.UTF8.GetBytes(body.ToString());
            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength64 = b.Length;
            ctx.Response.OutputStream.Write(b, 0, b.Length);
            ctx.Response.Close();
        }
    }

    public void Dispose() { try { listener.Stop(); } catch { } }
}

static class Tests
{
    static int passed, failed;
    static string dir;

    static void Check(bool cond, string what)
    {
        if (cond) { passed++; return; }
        failed++;
        Console.Error.WriteLine("FAIL: " + what);
    }

    static void Throws(Status want, Action call, string what)
    {
        try
        {
            call();
            failed++;
            Console.Error.WriteLine("FAIL: " + what + ": no exception, expected " + want);
        }
        catch (InventorySyncException e)
        {
            if (e.Status == want) passed++;
            else
            {
                failed++;
                Console.Error.WriteLine("FAIL: " + what + ": " + e.Status + " (" + e.Message + "), expected " + want);
            }
        }
    }

    static string CartJson(string name, string url, string realtime, int max, string token)
    {
        return "{\"name\":\"" + name + "\",\"adapter\":\"http_json\",\"url\":\"" + url + "\"" +
               (token != null ? ",\"token\":\"" + token + "\"" : "") +
               ",\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"" + realtime + "\"}," +
               "\"max_items_to_send\":" + max + "}";
    }

    static void Scenario()
    {
        using (var webA = new Emulator())
        using (var webB = new Emulator())
        using (var webC = new Emulator())
        using (var store = Store.Open(Path.Combine(dir, "scenario.db")))
        {
            store.SetParam("SynchQOH", "true");
            store.SetParam("RetryBaseMs", "0");
            Check(store.GetParam("SynchQOH") == "true", "SynchQOH reads back");

            int a = store.UpsertCart(CartJson("Web A", webA.Url, "attribute", 50, "s3cr3t-A"));
            int b = store.UpsertCart(CartJson("Web B", webB.Url, "sku", 50, null));
            int c = store.UpsertCart(CartJson("Web C", webC.Url, "none", 2, null));
            Check(a > 0 && b > a && c > b, "cart ids");
            int uncertain = -1;
            Check(store.SaveCart(CartJson("Web C", webC.Url, "none", 2, null), out uncertain) == c && uncertain == 0,
                  "SaveCart of a cart under its name: the same id, nothing held back");
            store.SetCartSync(a, true);
            store.SetCartSync(b, true);
            Throws(Status.Refused, () => store.SetCartSync(c, true), "a cart without real-time");
            string carts = store.CartList();
            Check(carts.Contains("Web A") && !carts.Contains("s3cr3t-A"), "cart list hides the token");

            // Items with non-ASCII text round-trip as UTF-8.
            store.UpsertItem("{\"sku\":\"TEE-M\",\"qoh\":10,\"description\":\"T-shirt \u00e9t\u00e9 \u2013 M\"}");
            store.UpsertItem("{\"sku\":\"TEE-L\",\"qoh\":5}");
            store.UpsertItem("{\"sku\":\"CAP\",\"qoh\":3}");
            store.UpsertItem("{\"sku\":\"\u00c9CHARPE\",\"qoh\":1}");
            Check(store.ItemQoh("\u00c9CHARPE") == 1, "a non-ASCII SKU");
            Check(store.ItemList("{\"sku_prefix\":\"TEE\"}").Contains("\u00e9t\u00e9 \u2013 M"), "UTF-8 description");
            foreach (var w in new[] { webA, webB })
            {
                w.SetQoh("TEE-M", 10);
                w.SetQoh("TEE-L", 5);
                w.SetQoh("CAP", 3);
                w.SetQoh("\u00c9CHARPE", 1);
            }

            // An adjustment fans out to both real-time carts.
            store.AdjustQoh("TEE-M", -2, Reason.PosSale);
            Check(store.ItemQoh("TEE-M") == 8, "QOH after the sale");
            Check(store.StackCount(0, StackState.Waiting) == 2, "one record per cart");
            store.AdjustQoh("TEE-L", -1, Reason.OrderImport, a);
            Check(store.StackCount(a, StackState.Waiting) == 1 && store.StackCount(b, StackState.Waiting) == 2, "origin cart excluded");
            store.AdjustQoh("CAP", 4, Reason.Receiving, 0, Store.AdjustNoWeb);
            Check(store.StackCount(0, StackState.Waiting) == 3, "no-web queues nothing");
            store.AdjustQohRef("TEE-L", 3, Reason.Receiving, "PO-17/1");
            store.AdjustQohRef("TEE-L", 3, Reason.Receiving, "PO-17/1");
            Check(store.ItemQoh("TEE-L") == 7, "a host reference is applied once");
            Throws(Status.Refused, () => store.AdjustQohRef("CAP", -2, Reason.OrderImport, "PO-17/1"), "another change under a reference used before");
            Check(store.ItemQoh("CAP") == 7, "the refused change changed nothing");
            Check(store.LedgerList("{\"sku\":\"TEE-L\"}").Contains("PO-17/1"), "ledger shows the reference");
            // A NUL would cut the reference short: "PO-17/1\0b" would read as seen before.
            bool cut = false;
            try { store.AdjustQohRef("TEE-L", 3, Reason.Receiving, "PO-17/1\0b"); }
            catch (ArgumentException) { cut = true; }
            Check(cut && store.ItemQoh("TEE-L") == 7, "a string holding a NUL is refused, not cut short");
            string stack = store.StackList();
            Check(stack.Contains("\"sku\":\"TEE-M\"") && stack.Contains("\"attempts\":0"), "stack listing");

            // Host transaction.
            store.Begin();
            store.AdjustQoh("TEE-M", -1, Reason.Adjustment);
            Throws(Status.Refused, () => store.RunStack(), "run inside a host transaction");
            store.Rollback();
            Check(store.ItemQoh("TEE-M") == 8, "rolled back");

            string report = store.RunStack();
            Check(report.Contains("\"sent\":5") && report.Contains("\"remaining\":0"), "stack run report: " + report);
            Check(webA.Qoh("TEE-M") == 8 && webB.Qoh("TEE-M") == 8 && webB.Qoh("TEE-L") == 7, "carts got the changes");
            Check(store.LastReport() == report, "last report is the run's");

            // Send QOH with a progress callback that cancels at once.
            webC.SetQoh("TEE-M", 0);
            webC.SetQoh("TEE-L", 0);
            webC.SetQoh("CAP", 0);
            webC.SetQoh("\u00c9CHARPE", 0);
            int calls = 0;
            report = store.SendQoh(c, 0, (done, total) => { calls++; return false; });
            Check(calls == 1 && report.Contains("\"cancelled\":true") && report.Contains("\"sent\":2"), "cancelled send: " + report);
            calls = 0;
            int lastDone = 0;
            report = store.SendQoh(c, 0, (done, total) => { calls++; lastDone = done; return true; });
            Check(report.Contains("\"sent\":4") && report.Contains("\"requests\":2") && lastDone == 4, "whole send: " + report);
            Check(webC.Qoh("CAP") == 7 && webC.Qoh("TEE-M") == 8, "cart C has the counts");
            // A throwing callback cancels and the exception comes back out.
            bool rethrown = false;
            try { store.SendQoh(c, 0, (done, total) => { throw new InvalidOperationException("from callback"); }); }
            catch (InvalidOperationException) { rethrown = true; }
            Check(rethrown, "callback exception rethrown");
            // Thrown at the call after the last batch: the run had finished, and says so.
            string after = null;
            try
            {
                store.SendQoh(c, 0, (done, total) =>
                {
                    if (done == total) throw new InvalidOperationException("after the last batch");
                    return true;
                });
            }
            catch (InvalidOperationException e) { after = e.Data["InventorySync.Report"] as string; }
            Check(after != null && after.Contains("\"cancelled\":false") && after.Contains("\"sent\":4"), "a finished run's report comes with the exception: " + after);
            Throws(Status.Refused, () => store.SendQoh(a), "manual send while real-time is on");
            store.SendQoh(a, Store.ManualForce);

            // Get QOH.
            webC.SetQoh("CAP", 5);
            webC.SetQoh("MUG", 9);
            report = store.GetQoh(c);
            Check(report.Contains("\"updated\":1") && report.Contains("MUG"), "get report: " + report);
            Check(store.ItemQoh("CAP") == 5, "pulled count");
            report = store.GetQoh(c, Store.GetCreateNew);
            Check(report.Contains("\"created\":1") && store.ItemQoh("MUG") == 9, "create new products");

            // Preflight.
            store.RunStack();
            webB.SetQoh("TEE-M", 1);
            string pf = store.Preflight(b);
            Check(pf.StartsWith("[") && pf.Contains("\"drift\"") && pf.Contains("\"unmapped\""), "preflight: " + pf);

            // A large listing needs a grown buffer (more than the first 4096 bytes).
            for (int i = 0; i < 150; i++)
                store.UpsertItem("{\"sku\":\"BULK-" + i.ToString("D3") + "\",\"qoh\":1,\"description\":\"bulk item number " + i + "\"}");
            string items = store.ItemList();
            Check(items.Length > 4096 && items.EndsWith("]") && items.Contains("BULK-149"), "grown buffer");

            // Controller.
            store.StartController(50);
            Check(store.ControllerStatus().Contains("\"running\":true"), "controller runs");
            store.StopController();
            Check(store.ControllerStatus().Contains("\"running\":false"), "controller stopped");
            store.DeleteCart(c);
            Throws(Status.NotFound, () => store.DeleteCart(c), "deleted cart");
        }
    }

    static void Errors()
    {
        using (var store = Store.Open(Path.Combine(dir, "errors.db")))
        {
            Throws(Status.NotFound, () => store.ItemQoh("NO-SUCH"), "unknown SKU");
            try { store.ItemQoh("NO-SUCH"); }
            catch (InventorySyncException e)
            {
                Check(e.Message.Contains("NO-SUCH") && e.Message.Contains("invsync_item_qoh") && e.Code == 4, "message: " + e.Message);
            }
            Throws(Status.InvalidArgument, () => store.UpsertItem("{\"sku\":"), "bad JSON");
            Throws(Status.InvalidArgument, () => store.SetParam("Nope", "1"), "unknown parameter");
            Throws(Status.InvalidArgument, () => store.SetParam("SynchQOH", "maybe"), "bad value");
            Throws(Status.NullPointer, () => store.SetParam("SynchQOH", null), "null string");
            Throws(Status.NullPointer, () => store.UpsertItem(null), "null JSON");
            store.UpsertItem("{\"sku\":\"A\",\"qoh\":1}");
            Throws(Status.InvalidArgument, () => store.AdjustQoh("A", 0, Reason.Adjustment), "delta 0");
            Throws(Status.InvalidArgument, () => store.AdjustQoh("A", 1, (Reason)9), "bad reason");
            Throws(Status.InvalidArgument, () => store.AdjustQoh("A", 1, Reason.Adjustment, 0, 8), "bad flags");
            Throws(Status.NotFound, () => store.SetCartSync(77, true), "unknown cart");
            Throws(Status.InvalidArgument, () => store.SetCartSync(-1, true), "negative cart id");
            Throws(Status.InvalidArgument, () => store.StackCount(0, (StackState)0), "bad state");
            Throws(Status.NotFound, () => store.LastReport(), "no report yet");
            Throws(Status.Refused, () => store.Commit(), "commit without begin");
            int down = store.UpsertCart("{\"name\":\"Down\",\"adapter\":\"http_json\",\"url\":\"http://127.0.0.1:1/\",\"token\":\"tok-SECRET\"," +
                                        "\"capabilities\":{\"send\":true,\"get\":true,\"realtime\":\"none\"}}");
            try { store.GetQoh(down); failed++; Console.Error.WriteLine("FAIL: unreachable cart"); }
            catch (InventorySyncException e)
            {
                Check(e.Status == Status.Network && !e.Message.Contains("tok-SECRET"), "network error without secret: " + e.Message);
            }
            // Raw calls: a too-small buffer then the right one.
            int needed;
            byte[] small = new byte[3];
            int st = Native.invsync_param_get(store.Handle, Native.Utf8("RetryMaxMs"), small, small.Length, out needed);
            Check(st == (int)Status.BufferTooSmall && needed == 7 && small[0] == 0, "too small, nothing written");
            byte[] right = new byte[needed];
            st = Native.invsync_param_get(store.Handle, Native.Utf8("RetryMaxMs"), right, right.Length, out needed);
            Check(st == 0 && Native.FromUtf8(right) == "300000", "right size");
            // Invalid UTF-8 straight through the raw API.
            st = Native.invsync_item_delete(store.Handle, new byte[] { 0x41, 0xFF, 0x42, 0 });
            Check(st == (int)Status.InvalidUtf8, "invalid UTF-8");
        }
        Throws(Status.InvalidArgument, () => Store.Open(""), "empty path");
        // A disposed store's handle is closed once; a second Dispose is harmless.
        var s2 = Store.Open(Path.Combine(dir, "errors.db"));
        s2.Dispose();
        s2.Dispose();
        Check(s2.Handle.IsClosed, "handle closed");
    }

    // A list that grows between the call that sizes it and the call that reads it (a busy
    // store) is read all the same; one that never fits is an error, not a truncated answer.
    static void TextGrows()
    {
        var answer = System.Text.Encoding.UTF8.GetBytes("[\"whole list\"]\0");
        int calls = 0;
        Store.TextCall growing = (byte[] buf, int len, out int needed) =>
        {
            calls++;
            needed = calls < 3 ? len + 1 : answer.Length;
            if (needed > len) return (int)Status.BufferTooSmall;
            Array.Copy(answer, buf, answer.Length);
            return (int)Status.Ok;
        };
        Check(Store.Text(growing) == "[\"whole list\"]", "grown twice");
        Check(calls == 3, "three calls");
        Store.TextCall never = (byte[] buf, int len, out int needed) =>
        {
            needed = len + 1;
            return (int)Status.BufferTooSmall;
        };
        Throws(Status.BufferTooSmall, () => Store.Text(never), "never fits");
    }

    // Get QOH calls the callback once its listing is read, before any count is applied, so a
    // callback that throws there (the user's Cancel) cancels the run: the exception comes
    // back with the cancelled report, and no count changed. A run let finish with a report
    // larger than the wrapper's first 4096-byte buffer (the library then answers
    // BUFFER_TOO_SMALL) returns it whole.
    static void GetQohCancelledAtItsLastPageAndABigReport()
    {
        using (var web = new Emulator())
        using (var store = Store.Open(Path.Combine(dir, "bigreport.db")))
        {
            int c = store.UpsertCart(CartJson("Big", web.Url, "none", 50, null));
            for (int i = 0; i < 200; i++)
                web.SetQoh("UNKNOWN-PRODUCT-SKU-NUMBER-" + i.ToString("D3"), 1);
            string after = null;
            bool rethrown = false;
            try
            {
                store.GetQoh(c, 0, (done, total) =>
                {
                    if (done == total) throw new InvalidOperationException("cancel at the last page");
                    return true;
                });
            }
            catch (InvalidOperationException e)
            {
                rethrown = true;
                after = e.Data["InventorySync.Report"] as string;
            }
            Check(rethrown, "get: callback exception rethrown");
            Check(after != null && after.Contains("\"cancelled\":true") && !after.Contains("UNKNOWN-PRODUCT-SKU-NUMBER-199"),
                  "a Get cancelled at its last page applies nothing, and its report comes with the exception: " + after);
            int calls = 0;
            string report = store.GetQoh(c, 0, (done, total) => { calls++; return true; });
            Check(calls == 1 && report.Contains("\"cancelled\":false") && report.Contains("UNKNOWN-PRODUCT-SKU-NUMBER-199"),
                  "a finished run's report (> 4096 bytes) comes whole: " + report.Substring(0, Math.Min(80, report.Length)));
            Check(report.Length > 4096 && store.LastReport() == report, "the library's last report is the run's, larger than 4096 bytes");
        }
    }

    // A string the library would receive as different text is refused, as one holding a NUL
    // is. A lone surrogate (an Access/.NET UTF-16 string cut in the middle of an emoji, e.g.
    // Left$(ref, 20)) would become U+FFFD, so two different host references would become the
    // same one and the second change be skipped as "seen before".
    static void LoneSurrogate()
    {
        using (var store = Store.Open(Path.Combine(dir, "surrogate.db")))
        {
            store.UpsertItem("{\"sku\":\"A\",\"qoh\":1}");
            bool refused1 = false, refused2 = false;
            try { store.AdjustQohRef("A", 1, Reason.OrderImport, "SO-1 \uD83D"); }
            catch (ArgumentException) { refused1 = true; }
            try { store.AdjustQohRef("A", 1, Reason.OrderImport, "SO-1 \uD83E"); }
            catch (ArgumentException) { refused2 = true; }
            int qoh = store.ItemQoh("A");
            Check(refused1 && refused2,
                  "a string holding a lone surrogate is refused, not changed to U+FFFD (refused: " + refused1 + ", " + refused2 + "; QOH " + qoh + ")");
            Check(qoh == 1 || qoh == 3, "two different host references are never merged into one (QOH " + qoh + ", expected 1 or 3)");
        }
    }

    // Preflight reads the whole cart. Its answer here is over the first 4 KiB buffer, and
    // the catalogue grows between reads (a shop importing products): until 2026-12-03 the
    // wrapper grew its buffer by calling preflight again, reading the cart up to six times,
    // and could end in BUFFER_TOO_SMALL. The answer too big is read with last_report.
    static void PreflightReadsTheCartOnce()
    {
        using (var cart = new CountingCart(200))
        using (var store = Store.Open(Path.Combine(dir, "preflight.db")))
        {
            int c = store.UpsertCart(CartJson("Counting", cart.Url, "none", 50, null));
            for (int i = 0; i < 200; i++)
                store.UpsertItem("{\"sku\":\"ITEM-" + i.ToString("D4") + "\",\"qoh\":10}");
            cart.GrowPerRead = 200;
            string warnings = store.Preflight(c);
            Check(warnings.Length > 4096 && warnings.Contains("ITEM-0199"), "preflight lists every drift");
            Check(cart.Reads == 1, "one preflight reads the cart once; it read it " + cart.Reads + " times");
        }
    }

    // A shop that closed leaves a backlog its cart can never take: DeleteCart refuses while
    // it waits, and RetireCart removes the cart with every record of it in one call, leaving
    // the other cart's records to be sent.
    static void RetireADeadCart()
    {
        using (var live = new Emulator())
        using (var store = Store.Open(Path.Combine(dir, "retire.db")))
        {
            store.SetParam("SynchQOH", "true");
            store.SetParam("RetryBaseMs", "0");
            int gone = store.UpsertCart(CartJson("Gone", "http://127.0.0.1:9/", "attribute", 50, null));
            int other = store.UpsertCart(CartJson("Live", live.Url, "attribute", 50, null));
            store.SetCartSync(gone, true);
            store.SetCartSync(other, true);
            store.UpsertItem("{\"sku\":\"MUG\",\"qoh\":10}");
            live.SetQoh("MUG", 10);
            store.AdjustQoh("MUG", -1, Reason.PosSale);
            store.AdjustQoh("MUG", -2, Reason.PosSale);
            Throws(Status.Refused, () => store.DeleteCart(gone), "delete a cart with waiting records");
            Throws(Status.NotFound, () => store.RetireCart(4242), "retire an unknown cart");
            Check(store.RetireCart(gone) == 2, "both records discarded with the cart");
            Throws(Status.NotFound, () => store.RetireCart(gone), "retired cart is gone");
            Check(store.StackCount(other, StackState.Waiting) == 2, "the other cart's records stay");
            store.RunStack();
            Check(live.Qoh("MUG") == 7, "the other cart is sent them: " + live.Qoh("MUG"));
        }
    }

    // The C ABI lets a progress callback close the handle it reports on (a WinForms
    // Close button run by Application.DoEvents, as a VBA DoEvents does): the call finishes
    // first and its work stands. The wrapper still returns the finished run's report. With a
    // report over the first 4 KiB buffer it read it again with invsync_last_report on the
    // disposed handle and threw ObjectDisposedException: a Get QOH that updated QOH was
    // reported to the host as a failure.
    static void DisposeFromProgressKeepsReport()
    {
        string path = Path.Combine(dir, "dispose-in-callback.db");
        using (var web = new Emulator())
        {
            var store = Store.Open(path);
            int c = store.UpsertCart(CartJson("Closing", web.Url, "none", 50, null));
            store.UpsertItem("{\"sku\":\"KNOWN\",\"qoh\":1}");
            web.SetQoh("KNOWN", 7);
            for (int i = 0; i < 200; i++)
                web.SetQoh("UNKNOWN-PRODUCT-SKU-NUMBER-" + i.ToString("D3"), 1);
            string report = null;
            Exception error = null;
            try
            {
                report = store.GetQoh(c, 0, (done, total) =>
                {
                    if (done == total) store.Dispose();   // the form closed meanwhile
                    return true;
                });
            }
            catch (Exception e) { error = e; }
            using (var again = Store.Open(path))
            {
                Check(again.ItemQoh("KNOWN") == 7, "dispose in callback: the Get QOH was applied");
            }
            Check(error == null && report != null && report.Contains("\"updated\":1") && report.Contains("UNKNOWN-PRODUCT-SKU-NUMBER-199"),
                  "dispose in callback: a finished Get QOH returns its report, not an exception (got " +
                  (error == null ? "report" : error.GetType().Name + ": " + error.Message) + ")");
        }
    }

    // An exception thrown by the host's progress callback was rethrown by the wrapper
    // with `throw thrown;`, which replaced its stack trace: the host's logs pointed at
    // InventorySync.Store.Manual instead of the callback line that failed.
    static void ThrowingProgressCallback(int done, int total)
    {
        throw new InvalidOperationException("progress UI failed at " + done);
    }

    static void CallbackExceptionKeepsItsStackTrace()
    {
        using (var web = new Emulator())
        using (var store = Store.Open(Path.Combine(dir, "stacktrace.db")))
        {
            int c = store.UpsertCart(CartJson("Trace", web.Url, "none", 1, null));
            store.UpsertItem("{\"sku\":\"T1\",\"qoh\":1}");
            store.UpsertItem("{\"sku\":\"T2\",\"qoh\":1}");
            web.SetQoh("T1", 0);
            web.SetQoh("T2", 0);
            string trace = null;
            try { store.SendQoh(c, 0, (done, total) => { ThrowingProgressCallback(done, total); return true; }); }
            catch (InvalidOperationException e) { trace = e.StackTrace ?? ""; }
            Check(trace != null && trace.Contains("ThrowingProgressCallback"),
                  "callback exception keeps its stack trace (origin frame missing): " + trace);
        }
    }

    // A store user's screen shows what went wrong, not the C function's name and a status.
    static void ReasonIsForTheStoreUser()
    {
        using (var store = Store.Open(Path.Combine(dir, "reason.db")))
        {
            try
            {
                store.ItemQoh("NO-SUCH-SKU");
                Check(false, "an unknown SKU throws");
            }
            catch (InventorySyncException e)
            {
                Check(e.Status == Status.NotFound, "unknown SKU is NotFound: " + e.Status);
                Check(e.Message.StartsWith("invsync_item_qoh: ") && e.Message.EndsWith("(status " + e.Code + ")"),
                      "Message keeps the function and status for a log: " + e.Message);
                Check(e.Reason.Contains("NO-SUCH-SKU") && !e.Reason.StartsWith("invsync_") && !e.Reason.Contains("(status"),
                      "Reason is the library's message alone: " + e.Reason);
            }
        }
    }

    static int Main()
    {
        dir = Path.Combine(Path.GetTempPath(), "invsync-dotnet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var tests = new List<KeyValuePair<string, Action>>
        {
            new KeyValuePair<string, Action>("scenario", Scenario),
            new KeyValuePair<string, Action>("errors", Errors),
            new KeyValuePair<string, Action>("text grows", TextGrows),
            new KeyValuePair<string, Action>("get cancelled at its last page, big report", GetQohCancelledAtItsLastPageAndABigReport),
            new KeyValuePair<string, Action>("lone surrogate", LoneSurrogate),
            new KeyValuePair<string, Action>("preflight reads the cart once", PreflightReadsTheCartOnce),
            new KeyValuePair<string, Action>("dispose from progress keeps report", DisposeFromProgressKeepsReport),
            new KeyValuePair<string, Action>("retire a dead cart", RetireADeadCart),
            new KeyValuePair<string, Action>("callback exception keeps its stack trace", CallbackExceptionKeepsItsStackTrace),
            new KeyValuePair<string, Action>("reason is for the store user", ReasonIsForTheStoreUser),
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
        Check(Native.invsync_abi_version() == Native.AbiVersion, "ABI version");
        Console.WriteLine("dotnet: " + passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
