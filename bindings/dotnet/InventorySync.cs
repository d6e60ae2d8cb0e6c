// InventorySync.cs: the .NET wrapper of the inventory_sync C ABI (contract v1).
//
// One file, no dependencies, C# 7.3: builds for .NET Framework 4.8 (csc or mcs) and for
// modern .NET (add it to any project). The native library is `inventory_sync.dll` on Windows
// (64-bit .NET and Office use it as it is; a 32-bit process needs the 32-bit build),
// `libinventory_sync.so` on Linux, `libinventory_sync.dylib` on macOS; put it beside the
// application or on the library search path.
//
// Every call follows include/inventory_sync.h: strings go in as NUL-terminated UTF-8, text
// comes out through buffers that are grown when the library answers BUFFER_TOO_SMALL, and a
// failure throws InventorySyncException carrying the status code and the library's message.

using System;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace InventorySync
{
    /// <summary>The fixed status codes of the C ABI (DESIGN §9).</summary>
    public enum Status
    {
        Ok = 0,
        NullPointer = 1,
        InvalidUtf8 = 2,
        InvalidArgument = 3,
        NotFound = 4,
        Refused = 5,
        BufferTooSmall = 6,
        Cancelled = 7,
        Busy = 8,
        Database = 9,
        Network = 10,
        Panic = 99,
    }

    /// <summary>Why QOH changed (the C ABI's reason numbers).</summary>
    public enum Reason
    {
        Adjustment = 1,
        PosSale = 2,
        OrderImport = 3,
        Receiving = 4,
        Other = 5,
        Return = 6,
    }

    /// <summary>Stack record states for <see cref="Store.StackCount"/>.</summary>
    public enum StackState
    {
        Waiting = 1,
        Bypassed = 2,
        Uncertain = 3,
    }

    /// <summary>A failed call: its status and the library's message (never a secret).</summary>
    public class InventorySyncException : Exception
    {
        public Status Status { get; private set; }
        public int Code { get { return (int)Status; } }

        /// <summary>
        /// What went wrong and what to do, as the library says it, for a store user's screen:
        /// Message without the C function's name before it and the status after it (both
        /// there for a log and a bug report).
        /// </summary>
        public string Reason { get; private set; }

        public InventorySyncException(int status, string message)
            : base(message + " (status " + status + ")")
        {
            Status = (Status)status;
            Reason = WithoutFunctionName(message);
        }

        // The library's messages begin "invsync_<function>: ".
        private static string WithoutFunctionName(string message)
        {
            if (message == null || !message.StartsWith("invsync_", StringComparison.Ordinal)) return message;
            int colon = message.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0) return message;
            for (int i = 0; i < colon; i++)
            {
                char c = message[i];
                if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return message;
            }
            return message.Substring(colon + 2);
        }
    }

    /// <summary>
    /// The raw P/Invoke declarations, one per header function, Cdecl stated explicitly. Strings
    /// are passed as NUL-terminated UTF-8 byte arrays, so no marshaller setting (ANSI code
    /// page, LPUTF8Str support) changes what the library receives.
    /// </summary>
    public static class Native
    {
        public const string Lib = "inventory_sync";
        public const int AbiVersion = 1;

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int ProgressFn(IntPtr user, int done, int total);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_abi_version();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_last_error(byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_store_open(byte[] path, out StoreHandle store);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void invsync_store_close(IntPtr store);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_param_set(StoreHandle store, byte[] name, byte[] value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_param_get(StoreHandle store, byte[] name, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_cart_upsert(StoreHandle store, byte[] cartJson, out int cartId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_cart_save(StoreHandle store, byte[] cartJson, out int cartId, out int uncertain);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_cart_set_sync(StoreHandle store, int cartId, int on);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_cart_list(StoreHandle store, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_cart_delete(StoreHandle store, int cartId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_cart_retire(StoreHandle store, int cartId, out int discarded);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_item_upsert(StoreHandle store, byte[] itemJson);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_item_list(StoreHandle store, byte[] filterJson, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_item_delete(StoreHandle store, byte[] sku);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_web_fields_set(StoreHandle store, int cartId, byte[] sku, byte[] json);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_adjust_qoh(StoreHandle store, byte[] sku, int delta, int reason, int originCartId, int flags);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_adjust_qoh_ref(StoreHandle store, byte[] sku, int delta, int reason, int originCartId, int flags, byte[] hostRef);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_item_qoh(StoreHandle store, byte[] sku, out int qoh);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_ledger_list(StoreHandle store, byte[] filterJson, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_begin(StoreHandle store);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_commit(StoreHandle store);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_rollback(StoreHandle store);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_stack_count(StoreHandle store, int cartId, int state, out int count);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_stack_list(StoreHandle store, byte[] filterJson, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_stack_retry(StoreHandle store, int recordId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_stack_discard(StoreHandle store, int recordId);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_stack_run(StoreHandle store, int maxRecords, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_controller_start(StoreHandle store, int intervalMs);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_controller_stop(StoreHandle store);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_controller_status(StoreHandle store, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_send_qoh(StoreHandle store, int cartId, int flags, ProgressFn progress, IntPtr user, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_get_qoh(StoreHandle store, int cartId, int flags, ProgressFn progress, IntPtr user, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_preflight(StoreHandle store, int cartId, byte[] buf, int len, out int needed);
        // Added within ABI version 1 (2026-12-04): a DLL built before lacks it, and calling it
        // there throws EntryPointNotFoundException.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_drift(StoreHandle store, int cartId, int repair, byte[] buf, int len, out int needed);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_last_report(StoreHandle store, byte[] buf, int len, out int needed);
        // The same on a raw handle a call holds a reference on (Store.Held): a store disposed
        // during the call (from its progress callback) is closed only when that call ends.
        [DllImport(Lib, EntryPoint = "invsync_last_report", CallingConvention = CallingConvention.Cdecl)]
        public static extern int invsync_last_report_raw(IntPtr store, byte[] buf, int len, out int needed);

        // Throws on a lone surrogate rather than writing U+FFFD for it.
        private static readonly Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>NUL-terminated UTF-8 bytes of <paramref name="s"/>; null stays null. A string
        /// holding a NUL is refused: the library would read it only up to the NUL, so
        /// "SO-1\0line-2" would pass as "SO-1" (a second line skipped as seen before) and
        /// "A\0-XL" would adjust "A".</summary>
        /// <exception cref="ArgumentException">The string holds a NUL character, or half of a
        /// surrogate pair (which would arrive as U+FFFD, and could match other text).</exception>
        public static byte[] Utf8(string s)
        {
            if (s == null) return null;
            if (s.IndexOf('\0') >= 0)
                throw new ArgumentException("text passed to inventory_sync holds a NUL character (\\0), which would cut it short");
            try
            {
                int n = Strict.GetByteCount(s);
                byte[] b = new byte[n + 1];
                Strict.GetBytes(s, 0, s.Length, b, 0);
                return b;
            }
            catch (EncoderFallbackException)
            {
                throw new ArgumentException("text passed to inventory_sync holds half of a UTF-16 surrogate pair (a string cut inside an emoji?), which UTF-8 cannot carry; it would arrive as U+FFFD and could match other text");
            }
        }

        /// <summary>
        /// <paramref name="s"/> as a JSON string literal, quotes included, for the JSON the
        /// calls take (items, carts, web fields, filters): a SKU or description holding a
        /// quote, a backslash or a line break (PIZZA-12") breaks JSON pasted together by hand,
        /// or turns text into keys of its own. null gives null.
        /// </summary>
        public static string JsonString(string s)
        {
            if (s == null) return "null";
            var b = new StringBuilder(s.Length + 2);
            b.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': b.Append("\\\""); break;
                    case '\\': b.Append("\\\\"); break;
                    case '\n': b.Append("\\n"); break;
                    case '\r': b.Append("\\r"); break;
                    case '\t': b.Append("\\t"); break;
                    default:
                        if (c < ' ') b.Append("\\u").Append(((int)c).ToString("x4"));
                        else b.Append(c);
                        break;
                }
            }
            return b.Append('"').ToString();
        }

        /// <summary>The string in <paramref name="buf"/> up to its NUL.</summary>
        public static string FromUtf8(byte[] buf)
        {
            int n = Array.IndexOf(buf, (byte)0);
            if (n < 0) n = buf.Length;
            return Encoding.UTF8.GetString(buf, 0, n);
        }

        /// <summary>The calling thread's last error message.</summary>
        public static string LastError()
        {
            int needed;
            byte[] buf = new byte[256];
            int status = invsync_last_error(buf, buf.Length, out needed);
            if (status == (int)Status.BufferTooSmall)
            {
                buf = new byte[needed];
                status = invsync_last_error(buf, buf.Length, out needed);
            }
            return status == 0 ? FromUtf8(buf) : "(no message)";
        }

        /// <summary>Throws for any status but OK.</summary>
        public static void Check(int status)
        {
            if (status != 0) throw new InventorySyncException(status, LastError());
        }
    }

    /// <summary>An open store handle; closed by Dispose or, failing that, by the finalizer.</summary>
    public sealed class StoreHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public StoreHandle() : base(true) { }

        protected override bool ReleaseHandle()
        {
            Native.invsync_store_close(handle);
            return true;
        }
    }

    /// <summary>
    /// One open store data file. Thread safety: the handle may be used from several threads
    /// (calls are serialised); a host transaction belongs to the handle. Disposed while
    /// another thread is inside a call, the store is closed when that call returns; a call
    /// made after Dispose throws ObjectDisposedException.
    /// </summary>
    public sealed class Store : IDisposable
    {
        public const int AdjustNoWeb = 1;
        public const int ManualForce = 1;
        public const int GetCreateNew = 2;

        private readonly StoreHandle safe;

        // Every call goes through this: a call on a closed store says which object was closed
        // and what to do, where the marshaller's own says only "Safe handle has been closed".
        private StoreHandle handle
        {
            get
            {
                if (safe.IsClosed)
                    throw new ObjectDisposedException(typeof(Store).FullName,
                        "this inventory_sync store was closed (Dispose, or the end of its using block); open it again with Store.Open");
                return safe;
            }
        }

        internal delegate int TextCall(byte[] buf, int len, out int needed);

        private Store(StoreHandle handle)
        {
            this.safe = handle;
        }

        /// <summary>Opens or creates a store file; checks the library's ABI version first.</summary>
        public static Store Open(string path)
        {
            int abi = Native.invsync_abi_version();
            if (abi != Native.AbiVersion)
                throw new InventorySyncException((int)Status.InvalidArgument,
                    "inventory_sync ABI version " + abi + " but this wrapper needs " + Native.AbiVersion);
            StoreHandle h;
            int status = Native.invsync_store_open(Native.Utf8(path), out h);
            if (status != 0)
            {
                if (h != null) h.SetHandleAsInvalid();
                Native.Check(status);
            }
            return new Store(h);
        }

        public void Dispose()
        {
            safe.Dispose();
        }

        /// <summary>The raw handle, for calls this class does not wrap.</summary>
        public StoreHandle Handle { get { return safe; } }

        // Reads a text-out call of one that does no work (a list, a parameter): tries a
        // buffer and grows it to the size the library asks, with room to spare, as often as
        // the answer grew in between (a busy store's lists do), a few times at most.
        internal static string Text(TextCall call)
        {
            byte[] buf = new byte[4096];
            int needed;
            int status = call(buf, buf.Length, out needed);
            for (int tries = 0; status == (int)Status.BufferTooSmall && tries < 5; tries++)
            {
                buf = new byte[needed + needed / 4 + 256];
                status = call(buf, buf.Length, out needed);
            }
            Native.Check(status);
            return Native.FromUtf8(buf);
        }

        public void SetParam(string name, string value)
        {
            Native.Check(Native.invsync_param_set(handle, Native.Utf8(name), Native.Utf8(value)));
        }

        public string GetParam(string name)
        {
            byte[] n = Native.Utf8(name);
            return Text((byte[] b, int l, out int k) => Native.invsync_param_get(handle, n, b, l, out k));
        }

        public int UpsertCart(string cartJson)
        {
            int id;
            Native.Check(Native.invsync_cart_upsert(handle, Native.Utf8(cartJson), out id));
            return id;
        }

        /// <summary>UpsertCart, also returning in uncertain how many records of the cart's web
        /// stack the save held back as uncertain: with a change of the adapter, the changes that
        /// may already be on the cart (sent through the old adapter, whose answer was lost). The
        /// owner checks the cart's counts, then retries or discards each. Needs a DLL of
        /// 2026-12-05 or later (invsync_cart_save).</summary>
        public int SaveCart(string cartJson, out int uncertain)
        {
            int id;
            Native.Check(Native.invsync_cart_save(handle, Native.Utf8(cartJson), out id, out uncertain));
            return id;
        }

        public void SetCartSync(int cartId, bool on)
        {
            Native.Check(Native.invsync_cart_set_sync(handle, cartId, on ? 1 : 0));
        }

        public string CartList()
        {
            return Text((byte[] b, int l, out int k) => Native.invsync_cart_list(handle, b, l, out k));
        }

        public void DeleteCart(int cartId)
        {
            Native.Check(Native.invsync_cart_delete(handle, cartId));
        }

        /// <summary>For a shop that is gone: deletes the cart with every record waiting,
        /// bypassed or uncertain for it (logged as discarded with the cart; the cart is not
        /// told), in one transaction, and returns how many records went. Throws with
        /// Status.Busy, changing nothing, while a controller is sending to the cart (stop it or
        /// wait for its pass, and try again) or a Send QOH, Get QOH or drift repair runs for
        /// it. Needs a DLL of 2026-12-05 or later (invsync_cart_retire).</summary>
        public int RetireCart(int cartId)
        {
            int discarded;
            Native.Check(Native.invsync_cart_retire(handle, cartId, out discarded));
            return discarded;
        }

        public void UpsertItem(string itemJson)
        {
            Native.Check(Native.invsync_item_upsert(handle, Native.Utf8(itemJson)));
        }

        public string ItemList(string filterJson = null)
        {
            byte[] f = Native.Utf8(filterJson);
            return Text((byte[] b, int l, out int k) => Native.invsync_item_list(handle, f, b, l, out k));
        }

        public void DeleteItem(string sku)
        {
            Native.Check(Native.invsync_item_delete(handle, Native.Utf8(sku)));
        }

        public void SetWebFields(int cartId, string sku, string json)
        {
            Native.Check(Native.invsync_web_fields_set(handle, cartId, Native.Utf8(sku), Native.Utf8(json)));
        }

        /// <summary>A QOH change and its web stack records, in one transaction.</summary>
        public void AdjustQoh(string sku, int delta, Reason reason, int originCartId = 0, int flags = 0)
        {
            Native.Check(Native.invsync_adjust_qoh(handle, Native.Utf8(sku), delta, (int)reason, originCartId, flags));
        }

        /// <summary>As AdjustQoh, idempotent on <paramref name="hostRef"/>.</summary>
        public void AdjustQohRef(string sku, int delta, Reason reason, string hostRef, int originCartId = 0, int flags = 0)
        {
            Native.Check(Native.invsync_adjust_qoh_ref(handle, Native.Utf8(sku), delta, (int)reason, originCartId, flags, Native.Utf8(hostRef)));
        }

        public int ItemQoh(string sku)
        {
            int q;
            Native.Check(Native.invsync_item_qoh(handle, Native.Utf8(sku), out q));
            return q;
        }

        public string LedgerList(string filterJson = null)
        {
            byte[] f = Native.Utf8(filterJson);
            return Text((byte[] b, int l, out int k) => Native.invsync_ledger_list(handle, f, b, l, out k));
        }

        /// <summary>
        /// Opens the handle's transaction. It is this Store's, not this thread's: a call any
        /// other thread makes on this Store before Commit or Rollback joins it, and a Rollback
        /// undoes that call too, though it returned without error (a till's sale made during
        /// an import that then fails is lost, and the carts were never told). Run a transaction
        /// on a Store of its own (Store.Open the same file again): other handles' writes wait
        /// for it, up to the busy timeout (then Status.Busy), and are never undone by it.
        /// </summary>
        public void Begin() { Native.Check(Native.invsync_begin(handle)); }
        public void Commit() { Native.Check(Native.invsync_commit(handle)); }
        public void Rollback() { Native.Check(Native.invsync_rollback(handle)); }

        public int StackCount(int cartId, StackState state)
        {
            int n;
            Native.Check(Native.invsync_stack_count(handle, cartId, (int)state, out n));
            return n;
        }

        public string StackList(string filterJson = null)
        {
            byte[] f = Native.Utf8(filterJson);
            return Text((byte[] b, int l, out int k) => Native.invsync_stack_list(handle, f, b, l, out k));
        }

        public void StackRetry(int recordId) { Native.Check(Native.invsync_stack_retry(handle, recordId)); }
        public void StackDiscard(int recordId) { Native.Check(Native.invsync_stack_discard(handle, recordId)); }

        // A call that does work is never repeated to grow the buffer: its report is read
        // again with invsync_last_report, on the raw handle the call holds (see Held).
        private static string WorkReport(IntPtr raw, int status, byte[] buf, bool cancelledIsOk)
        {
            if (status == (int)Status.BufferTooSmall || (status == (int)Status.Cancelled && cancelledIsOk && buf == null))
                return LastReport(raw);
            if (status == (int)Status.Cancelled && cancelledIsOk)
                return Native.FromUtf8(buf);
            Native.Check(status);
            return Native.FromUtf8(buf);
        }

        /// <summary>One pass of the stack controller (0 = all due records); its JSON report.</summary>
        public string RunStack(int maxRecords = 0)
        {
            return Work((byte[] b, int l, out int k) => Native.invsync_stack_run(handle, maxRecords, b, l, out k));
        }

        // A call that does work, made once with a 4 KiB buffer: a longer report is read with
        // invsync_last_report (WorkReport).
        private string Work(TextCall call)
        {
            return Held(raw =>
            {
                byte[] buf = new byte[4096];
                int needed;
                return WorkReport(raw, call(buf, buf.Length, out needed), buf, false);
            });
        }

        // Runs `body` holding a reference on the handle: a Dispose meanwhile (a Close button
        // run from the progress callback by Application.DoEvents) closes the store only once
        // the body is done, so the finished run's report is still read, on the raw handle
        // (the SafeHandle itself refuses calls once disposed).
        private T Held<T>(Func<IntPtr, T> body)
        {
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                return body(handle.DangerousGetHandle());
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
        }

        private static string LastReport(IntPtr raw)
        {
            return Text((byte[] b, int l, out int k) => Native.invsync_last_report_raw(raw, b, l, out k));
        }

        public void StartController(int intervalMs) { Native.Check(Native.invsync_controller_start(handle, intervalMs)); }
        public void StopController() { Native.Check(Native.invsync_controller_stop(handle)); }

        public string ControllerStatus()
        {
            return Text((byte[] b, int l, out int k) => Native.invsync_controller_status(handle, b, l, out k));
        }

        // Runs Send or Get QOH with a managed progress callback. The delegate is held in a
        // local and kept alive past the call, so the GC cannot collect it while native code
        // may call it; an exception in the callback cancels the run and is rethrown after,
        // carrying the run's report in Data["InventorySync.Report"]: thrown at Send QOH's call
        // after its last batch, the run had finished ("cancelled":false), and the host must
        // not tell its user it failed. (Get QOH's last call comes before any count is
        // applied: thrown there, it cancels the run.)
        private string Manual(bool send, int cartId, int flags, Func<int, int, bool> progress)
        {
            return Held(raw => Manual(raw, send, cartId, flags, progress));
        }

        private string Manual(IntPtr raw, bool send, int cartId, int flags, Func<int, int, bool> progress)
        {
            Exception thrown = null;
            Native.ProgressFn fn = null;
            if (progress != null)
            {
                fn = (user, done, total) =>
                {
                    try { return progress(done, total) ? 0 : 1; }
                    catch (Exception e) { thrown = e; return 1; }
                };
            }
            byte[] buf = new byte[4096];
            int needed;
            int status = send
                ? Native.invsync_send_qoh(handle, cartId, flags, fn, IntPtr.Zero, buf, buf.Length, out needed)
                : Native.invsync_get_qoh(handle, cartId, flags, fn, IntPtr.Zero, buf, buf.Length, out needed);
            GC.KeepAlive(fn);
            if (thrown != null)
            {
                // A report too big for the buffer is the library's last report (BUFFER_TOO_SMALL
                // with the run done); reading it must not hide the callback's exception.
                if (status == 0 || status == (int)Status.Cancelled || status == (int)Status.BufferTooSmall)
                {
                    try
                    {
                        thrown.Data["InventorySync.Report"] =
                            status != (int)Status.BufferTooSmall && needed <= buf.Length ? Native.FromUtf8(buf) : LastReport(raw);
                    }
                    catch (Exception) { }
                }
                // Rethrown with the stack trace it was thrown with (the host's callback line).
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(thrown).Throw();
            }
            if (status == (int)Status.Cancelled)
                return needed <= buf.Length ? Native.FromUtf8(buf) : LastReport(raw);
            return WorkReport(raw, status, buf, false);
        }

        /// <summary>
        /// Send QOH to website. <paramref name="progress"/>(done, total) is called between
        /// batches on this thread; return false to cancel (the report then says
        /// "cancelled":true). Returns the JSON report.
        /// </summary>
        public string SendQoh(int cartId, int flags = 0, Func<int, int, bool> progress = null)
        {
            return Manual(true, cartId, flags, progress);
        }

        /// <summary>Get QOH from website; as SendQoh (total is -1 while more pages may follow;
        /// the call with done == total comes before any count is applied, and false cancels).</summary>
        public string GetQoh(int cartId, int flags = 0, Func<int, int, bool> progress = null)
        {
            return Manual(false, cartId, flags, progress);
        }

        /// <summary>
        /// Send QOH reporting to an IProgress; cancels when the token says so. The library
        /// asks only between batches, so a Cancel during a batch takes effect after it, and the
        /// report says "cancelled":true. A token cancelled before the call throws
        /// OperationCanceledException and sends nothing (the library would send a first batch
        /// before it first asks).
        /// </summary>
        public string SendQoh(int cartId, int flags, IProgress<int> progress, System.Threading.CancellationToken cancel)
        {
            cancel.ThrowIfCancellationRequested();
            return Manual(true, cartId, flags, (done, total) =>
            {
                if (progress != null) progress.Report(done);
                return !cancel.IsCancellationRequested;
            });
        }

        /// <summary>Get QOH reporting to an IProgress, cancelled by the token; as the SendQoh
        /// overload (a token cancelled before the call throws and reads nothing).</summary>
        public string GetQoh(int cartId, int flags, IProgress<int> progress, System.Threading.CancellationToken cancel)
        {
            cancel.ThrowIfCancellationRequested();
            return Manual(false, cartId, flags, (done, total) =>
            {
                if (progress != null) progress.Report(done);
                return !cancel.IsCancellationRequested;
            });
        }

        /// <summary>Preflight reads the whole cart: an answer too big for the buffer is read
        /// again with invsync_last_report, never by reading the cart again.</summary>
        public string Preflight(int cartId)
        {
            return Work((byte[] b, int l, out int k) => Native.invsync_preflight(handle, cartId, b, l, out k));
        }

        /// <summary>
        /// The drift report: what the cart shows against what it should, net of waiting
        /// records; <paramref name="repair"/> sets what is off by compare-and-set. Reads the
        /// whole cart: an answer too big for the buffer is read again with
        /// invsync_last_report, as Preflight's is. Needs a DLL of 2026-12-04 or later.
        /// </summary>
        public string Drift(int cartId, bool repair = false)
        {
            int r = repair ? 1 : 0;
            return Work((byte[] b, int l, out int k) => Native.invsync_drift(handle, cartId, r, b, l, out k));
        }

        public string LastReport()
        {
            return Text((byte[] b, int l, out int k) => Native.invsync_last_report(handle, b, l, out k));
        }
    }
}
