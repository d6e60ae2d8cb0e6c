Attribute VB_Name = "InventorySync"
' InventorySync.bas: VBA declarations of the inventory_sync C ABI (contract v1), with UTF-8
' conversion and buffer-growing helpers. Import it with InventorySyncClient.cls into an
' Access/Excel project (VBA7: Office 2010 or later) and put inventory_sync.dll where Windows
' finds it (beside the .accdb/.xlsm's host executable, on PATH, or load it first with
' LoadLibrary from a full path).
'
' 64-bit Office calls the platform C convention, so the functions are declared as exported.
' 32-bit Office can call only stdcall: there every function is declared under its own name
' with Alias "<name>_std", the stdcall twin the 32-bit DLL exports. Use the 32-bit DLL in
' 32-bit Office and the 64-bit DLL in 64-bit Office.
'
' Types: int32_t is Long; every pointer and handle is LongPtr; an int32_t out parameter is
' ByRef Long. Strings go in as NUL-terminated UTF-8 byte arrays (Utf8z), passed as
' VarPtr(bytes(0)). tests/ffi_header.rs checks these declarations against the header.
Option Explicit

Public Const INVSYNC_ABI_VERSION As Long = 1
Public Const INVSYNC_OK As Long = 0
Public Const INVSYNC_NULL_POINTER As Long = 1
Public Const INVSYNC_INVALID_UTF8 As Long = 2
Public Const INVSYNC_INVALID_ARGUMENT As Long = 3
Public Const INVSYNC_NOT_FOUND As Long = 4
Public Const INVSYNC_REFUSED As Long = 5
Public Const INVSYNC_BUFFER_TOO_SMALL As Long = 6
Public Const INVSYNC_CANCELLED As Long = 7
Public Const INVSYNC_BUSY As Long = 8
Public Const INVSYNC_DATABASE As Long = 9
Public Const INVSYNC_NETWORK As Long = 10
Public Const INVSYNC_PANIC As Long = 99
Public Const INVSYNC_ADJUST_NO_WEB As Long = 1
Public Const INVSYNC_MANUAL_FORCE As Long = 1
Public Const INVSYNC_GET_CREATE_NEW As Long = 2

' Err.Number of a library failure is INVSYNC_ERR_BASE + status.
Public Const INVSYNC_ERR_BASE As Long = vbObjectError + 4096

Private Const CP_UTF8 As Long = 65001
Private Const WC_ERR_INVALID_CHARS As Long = &H80

#If VBA7 Then
    Private Declare PtrSafe Function WideCharToMultiByte Lib "kernel32" (ByVal CodePage As Long, ByVal dwFlags As Long, ByVal lpWideCharStr As LongPtr, ByVal cchWideChar As Long, ByVal lpMultiByteStr As LongPtr, ByVal cbMultiByte As Long, ByVal lpDefaultChar As LongPtr, ByVal lpUsedDefaultChar As LongPtr) As Long
    Private Declare PtrSafe Function MultiByteToWideChar Lib "kernel32" (ByVal CodePage As Long, ByVal dwFlags As Long, ByVal lpMultiByteStr As LongPtr, ByVal cbMultiByte As Long, ByVal lpWideCharStr As LongPtr, ByVal cchWideChar As Long) As Long

#If Win64 Then
    ' 64-bit Office: the C convention, names as exported.
        Public Declare PtrSafe Function invsync_abi_version Lib "inventory_sync.dll" () As Long
        Public Declare PtrSafe Function invsync_last_error Lib "inventory_sync.dll" (ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_store_open Lib "inventory_sync.dll" (ByVal path As LongPtr, ByRef outValue As LongPtr) As Long
        Public Declare PtrSafe Sub invsync_store_close Lib "inventory_sync.dll" (ByVal store As LongPtr)
        Public Declare PtrSafe Function invsync_param_set Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal paramName As LongPtr, ByVal paramValue As LongPtr) As Long
        Public Declare PtrSafe Function invsync_param_get Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal paramName As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_cart_upsert Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_json As LongPtr, ByRef out_cart_id As Long) As Long
        Public Declare PtrSafe Function invsync_cart_save Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_json As LongPtr, ByRef out_cart_id As Long, ByRef out_uncertain As Long) As Long
        Public Declare PtrSafe Function invsync_cart_set_sync Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal turnOn As Long) As Long
        Public Declare PtrSafe Function invsync_cart_list Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_cart_delete Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long) As Long
        Public Declare PtrSafe Function invsync_cart_retire Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByRef out_discarded As Long) As Long
        Public Declare PtrSafe Function invsync_item_upsert Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal item_json As LongPtr) As Long
        Public Declare PtrSafe Function invsync_item_list Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal filter_json As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_item_delete Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal sku As LongPtr) As Long
        Public Declare PtrSafe Function invsync_web_fields_set Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal sku As LongPtr, ByVal json As LongPtr) As Long
        Public Declare PtrSafe Function invsync_adjust_qoh Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal sku As LongPtr, ByVal delta As Long, ByVal reason As Long, ByVal origin_cart_id As Long, ByVal flags As Long) As Long
        Public Declare PtrSafe Function invsync_adjust_qoh_ref Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal sku As LongPtr, ByVal delta As Long, ByVal reason As Long, ByVal origin_cart_id As Long, ByVal flags As Long, ByVal host_ref As LongPtr) As Long
        Public Declare PtrSafe Function invsync_item_qoh Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal sku As LongPtr, ByRef out_qoh As Long) As Long
        Public Declare PtrSafe Function invsync_ledger_list Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal filter_json As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_begin Lib "inventory_sync.dll" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_commit Lib "inventory_sync.dll" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_rollback Lib "inventory_sync.dll" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_stack_count Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal state As Long, ByRef outValue As Long) As Long
        Public Declare PtrSafe Function invsync_stack_list Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal filter_json As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_stack_retry Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal record_id As Long) As Long
        Public Declare PtrSafe Function invsync_stack_discard Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal record_id As Long) As Long
        Public Declare PtrSafe Function invsync_stack_run Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal max_records As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_controller_start Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal interval_ms As Long) As Long
        Public Declare PtrSafe Function invsync_controller_stop Lib "inventory_sync.dll" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_controller_status Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_send_qoh Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal flags As Long, ByVal progress As LongPtr, ByVal user As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_get_qoh Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal flags As Long, ByVal progress As LongPtr, ByVal user As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_preflight Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_drift Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal repair As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_last_report Lib "inventory_sync.dll" (ByVal store As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
#Else
    ' 32-bit Office: the stdcall twins (DESIGN section 9), under the same names.
        Public Declare PtrSafe Function invsync_abi_version Lib "inventory_sync.dll" Alias "invsync_abi_version_std" () As Long
        Public Declare PtrSafe Function invsync_last_error Lib "inventory_sync.dll" Alias "invsync_last_error_std" (ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_store_open Lib "inventory_sync.dll" Alias "invsync_store_open_std" (ByVal path As LongPtr, ByRef outValue As LongPtr) As Long
        Public Declare PtrSafe Sub invsync_store_close Lib "inventory_sync.dll" Alias "invsync_store_close_std" (ByVal store As LongPtr)
        Public Declare PtrSafe Function invsync_param_set Lib "inventory_sync.dll" Alias "invsync_param_set_std" (ByVal store As LongPtr, ByVal paramName As LongPtr, ByVal paramValue As LongPtr) As Long
        Public Declare PtrSafe Function invsync_param_get Lib "inventory_sync.dll" Alias "invsync_param_get_std" (ByVal store As LongPtr, ByVal paramName As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_cart_upsert Lib "inventory_sync.dll" Alias "invsync_cart_upsert_std" (ByVal store As LongPtr, ByVal cart_json As LongPtr, ByRef out_cart_id As Long) As Long
        Public Declare PtrSafe Function invsync_cart_save Lib "inventory_sync.dll" Alias "invsync_cart_save_std" (ByVal store As LongPtr, ByVal cart_json As LongPtr, ByRef out_cart_id As Long, ByRef out_uncertain As Long) As Long
        Public Declare PtrSafe Function invsync_cart_set_sync Lib "inventory_sync.dll" Alias "invsync_cart_set_sync_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal turnOn As Long) As Long
        Public Declare PtrSafe Function invsync_cart_list Lib "inventory_sync.dll" Alias "invsync_cart_list_std" (ByVal store As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_cart_delete Lib "inventory_sync.dll" Alias "invsync_cart_delete_std" (ByVal store As LongPtr, ByVal cart_id As Long) As Long
        Public Declare PtrSafe Function invsync_cart_retire Lib "inventory_sync.dll" Alias "invsync_cart_retire_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByRef out_discarded As Long) As Long
        Public Declare PtrSafe Function invsync_item_upsert Lib "inventory_sync.dll" Alias "invsync_item_upsert_std" (ByVal store As LongPtr, ByVal item_json As LongPtr) As Long
        Public Declare PtrSafe Function invsync_item_list Lib "inventory_sync.dll" Alias "invsync_item_list_std" (ByVal store As LongPtr, ByVal filter_json As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_item_delete Lib "inventory_sync.dll" Alias "invsync_item_delete_std" (ByVal store As LongPtr, ByVal sku As LongPtr) As Long
        Public Declare PtrSafe Function invsync_web_fields_set Lib "inventory_sync.dll" Alias "invsync_web_fields_set_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal sku As LongPtr, ByVal json As LongPtr) As Long
        Public Declare PtrSafe Function invsync_adjust_qoh Lib "inventory_sync.dll" Alias "invsync_adjust_qoh_std" (ByVal store As LongPtr, ByVal sku As LongPtr, ByVal delta As Long, ByVal reason As Long, ByVal origin_cart_id As Long, ByVal flags As Long) As Long
        Public Declare PtrSafe Function invsync_adjust_qoh_ref Lib "inventory_sync.dll" Alias "invsync_adjust_qoh_ref_std" (ByVal store As LongPtr, ByVal sku As LongPtr, ByVal delta As Long, ByVal reason As Long, ByVal origin_cart_id As Long, ByVal flags As Long, ByVal host_ref As LongPtr) As Long
        Public Declare PtrSafe Function invsync_item_qoh Lib "inventory_sync.dll" Alias "invsync_item_qoh_std" (ByVal store As LongPtr, ByVal sku As LongPtr, ByRef out_qoh As Long) As Long
        Public Declare PtrSafe Function invsync_ledger_list Lib "inventory_sync.dll" Alias "invsync_ledger_list_std" (ByVal store As LongPtr, ByVal filter_json As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_begin Lib "inventory_sync.dll" Alias "invsync_begin_std" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_commit Lib "inventory_sync.dll" Alias "invsync_commit_std" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_rollback Lib "inventory_sync.dll" Alias "invsync_rollback_std" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_stack_count Lib "inventory_sync.dll" Alias "invsync_stack_count_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal state As Long, ByRef outValue As Long) As Long
        Public Declare PtrSafe Function invsync_stack_list Lib "inventory_sync.dll" Alias "invsync_stack_list_std" (ByVal store As LongPtr, ByVal filter_json As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_stack_retry Lib "inventory_sync.dll" Alias "invsync_stack_retry_std" (ByVal store As LongPtr, ByVal record_id As Long) As Long
        Public Declare PtrSafe Function invsync_stack_discard Lib "inventory_sync.dll" Alias "invsync_stack_discard_std" (ByVal store As LongPtr, ByVal record_id As Long) As Long
        Public Declare PtrSafe Function invsync_stack_run Lib "inventory_sync.dll" Alias "invsync_stack_run_std" (ByVal store As LongPtr, ByVal max_records As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_controller_start Lib "inventory_sync.dll" Alias "invsync_controller_start_std" (ByVal store As LongPtr, ByVal interval_ms As Long) As Long
        Public Declare PtrSafe Function invsync_controller_stop Lib "inventory_sync.dll" Alias "invsync_controller_stop_std" (ByVal store As LongPtr) As Long
        Public Declare PtrSafe Function invsync_controller_status Lib "inventory_sync.dll" Alias "invsync_controller_status_std" (ByVal store As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_send_qoh Lib "inventory_sync.dll" Alias "invsync_send_qoh_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal flags As Long, ByVal progress As LongPtr, ByVal user As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_get_qoh Lib "inventory_sync.dll" Alias "invsync_get_qoh_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal flags As Long, ByVal progress As LongPtr, ByVal user As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_preflight Lib "inventory_sync.dll" Alias "invsync_preflight_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_drift Lib "inventory_sync.dll" Alias "invsync_drift_std" (ByVal store As LongPtr, ByVal cart_id As Long, ByVal repair As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
        Public Declare PtrSafe Function invsync_last_report Lib "inventory_sync.dll" Alias "invsync_last_report_std" (ByVal store As LongPtr, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
#End If
#Else
    ' Office 2007 and older (VBA6) are not supported: they lack PtrSafe and LongPtr.
#End If

' Set by a form's Cancel button; read by InvsyncProgress between batches. Cleared when a
' Send or Get QOH starts with none running.
Public InvsyncCancelRequested As Boolean
' Send/Get QOH runs in progress, of every client (one may start from DoEvents in another).
Public InvsyncManualRuns As Long
' The last progress reported (done, total; total is -1 while unknown).
Public InvsyncProgressDone As Long
Public InvsyncProgressTotal As Long

' The progress callback of Send/Get QOH: pass AddressOf InvsyncProgress. AddressOf gives a
' stdcall function, which is what the 32-bit _std twins expect. It runs on the calling
' thread between batches; returning non-zero cancels. It must not raise an error.
#If VBA7 Then
Public Function InvsyncProgress(ByVal user As LongPtr, ByVal done As Long, ByVal total As Long) As Long
#Else
Public Function InvsyncProgress(ByVal user As Long, ByVal done As Long, ByVal total As Long) As Long
#End If
    On Error Resume Next
    InvsyncProgressDone = done
    InvsyncProgressTotal = total
    DoEvents
    If InvsyncCancelRequested Then InvsyncProgress = 1 Else InvsyncProgress = 0
End Function

' NUL-terminated UTF-8 bytes of s, for a const char * parameter (pass VarPtr(b(0))).
Public Function Utf8z(ByVal s As String) As Byte()
    Dim b() As Byte
    Dim n As Long
    ' The library reads up to the first NUL: "SO-1" & vbNullChar & "line-2" would pass as
    ' "SO-1" (a second line skipped as seen before), so such text is refused here.
    If InStr(s, vbNullChar) > 0 Then
        Err.Raise 5, "InventorySync", "text passed to inventory_sync holds a NUL character, which would cut it short"
    End If
    If Len(s) = 0 Then
        ReDim b(0)
        Utf8z = b
        Exit Function
    End If
    ' WC_ERR_INVALID_CHARS: half of a surrogate pair (a string cut inside an emoji) is an
    ' error, not a U+FFFD that could match other text.
    n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, StrPtr(s), Len(s), 0, 0, 0, 0)
    If n = 0 Then
        Err.Raise 5, "InventorySync", "text passed to inventory_sync holds half of a UTF-16 surrogate pair, which UTF-8 cannot carry"
    End If
    ReDim b(n)
    WideCharToMultiByte CP_UTF8, WC_ERR_INVALID_CHARS, StrPtr(s), Len(s), VarPtr(b(0)), n, 0, 0
    b(n) = 0
    Utf8z = b
End Function

' The text of a UTF-8 buffer up to its NUL (needed counts the NUL).
Public Function FromUtf8(b() As Byte, ByVal needed As Long) As String
    Dim n As Long, s As String
    If needed <= 1 Then
        FromUtf8 = vbNullString
        Exit Function
    End If
    n = MultiByteToWideChar(CP_UTF8, 0, VarPtr(b(0)), needed - 1, 0, 0)
    s = String$(n, vbNullChar)
    MultiByteToWideChar CP_UTF8, 0, VarPtr(b(0)), needed - 1, StrPtr(s), n
    FromUtf8 = s
End Function

' The calling thread's last error message.
Public Function InvsyncLastError() As String
    Dim b() As Byte, needed As Long
    ReDim b(255)
    If invsync_last_error(VarPtr(b(0)), 256, needed) = INVSYNC_BUFFER_TOO_SMALL Then
        ReDim b(needed - 1)
        If invsync_last_error(VarPtr(b(0)), needed, needed) <> INVSYNC_OK Then Exit Function
    End If
    InvsyncLastError = FromUtf8(b, needed)
End Function

' Raises an error (Err.Number = INVSYNC_ERR_BASE + status) unless status is OK.
Public Sub InvsyncCheck(ByVal status As Long)
    If status <> INVSYNC_OK Then
        Err.Raise INVSYNC_ERR_BASE + status, "inventory_sync", InvsyncLastError()
    End If
End Sub

' Text-out calls by number, so one helper can grow the buffer for all of them.
' 1 cart_list, 2 item_list, 3 ledger_list, 4 stack_list, 5 controller_status,
' 6 last_report, 7 param_get; 8 preflight, 9 stack_run, 10 drift (report only) and 11 drift
' with repair do work: InvsyncWork calls them once.
#If VBA7 Then
Private Function TextCall(ByVal which As Long, ByVal store As LongPtr, ByVal arg As LongPtr, ByVal num As Long, ByVal buf As LongPtr, ByVal bufLen As Long, ByRef needed As Long) As Long
#Else
Private Function TextCall(ByVal which As Long, ByVal store As Long, ByVal arg As Long, ByVal num As Long, ByVal buf As Long, ByVal bufLen As Long, ByRef needed As Long) As Long
#End If
    Select Case which
        Case 1: TextCall = invsync_cart_list(store, buf, bufLen, needed)
        Case 2: TextCall = invsync_item_list(store, arg, buf, bufLen, needed)
        Case 3: TextCall = invsync_ledger_list(store, arg, buf, bufLen, needed)
        Case 4: TextCall = invsync_stack_list(store, arg, buf, bufLen, needed)
        Case 5: TextCall = invsync_controller_status(store, buf, bufLen, needed)
        Case 6: TextCall = invsync_last_report(store, buf, bufLen, needed)
        Case 7: TextCall = invsync_param_get(store, arg, buf, bufLen, needed)
        Case 8: TextCall = invsync_preflight(store, num, buf, bufLen, needed)
        Case 9: TextCall = invsync_stack_run(store, num, buf, bufLen, needed)
        Case 10: TextCall = invsync_drift(store, num, 0, buf, bufLen, needed)
        Case 11: TextCall = invsync_drift(store, num, 1, buf, bufLen, needed)
        ' Not a call: never answered as one that succeeded.
        Case Else: Err.Raise 5, "inventory_sync", "InvsyncText: no text-out call numbered " & which
    End Select
End Function

' Runs a text-out call of one that does no work (a list, a parameter) with a 4 KiB buffer,
' grown to the size the library asks, with room to spare, as often as the answer grew in
' between (a busy store's lists do), a few times at most.
' argText is the optional string argument (a filter or a name); "" passes NULL.
#If VBA7 Then
Public Function InvsyncText(ByVal which As Long, ByVal store As LongPtr, Optional ByVal argText As String = "", Optional ByVal num As Long = 0) As String
    Dim arg As LongPtr
#Else
Public Function InvsyncText(ByVal which As Long, ByVal store As Long, Optional ByVal argText As String = "", Optional ByVal num As Long = 0) As String
    Dim arg As Long
#End If
    Dim a() As Byte, b() As Byte, needed As Long, status As Long, tries As Long, size As Long
    ' Called again to grow its buffer, a call that does work would do it again (read the whole
    ' cart, run another pass): those go through InvsyncWork.
    If which >= 8 And which <= 11 Then
        Err.Raise 5, "inventory_sync", "InvsyncText: call " & which & " does work; use InvsyncWork"
    End If
    If Len(argText) > 0 Then
        a = Utf8z(argText)
        arg = VarPtr(a(0))
    End If
    ReDim b(4095)
    status = TextCall(which, store, arg, num, VarPtr(b(0)), 4096, needed)
    Do While status = INVSYNC_BUFFER_TOO_SMALL And tries < 5
        tries = tries + 1
        size = needed + needed \ 4 + 256
        ReDim b(size - 1)
        status = TextCall(which, store, arg, num, VarPtr(b(0)), size, needed)
    Loop
    InvsyncCheck status
    InvsyncText = FromUtf8(b, needed)
End Function

' Runs a text-out call that does work (8 preflight, 9 stack_run, 10/11 drift; num is its cart or its
' record count) once, with a 4 KiB buffer: a longer report is read with
' invsync_last_report, never by doing the work again.
#If VBA7 Then
Public Function InvsyncWork(ByVal which As Long, ByVal store As LongPtr, ByVal num As Long) As String
#Else
Public Function InvsyncWork(ByVal which As Long, ByVal store As Long, ByVal num As Long) As String
#End If
    Dim b() As Byte, needed As Long, status As Long
    ReDim b(4095)
    status = TextCall(which, store, 0, num, VarPtr(b(0)), 4096, needed)
    If status = INVSYNC_BUFFER_TOO_SMALL Then
        InvsyncWork = InvsyncLastReport(store)
        Exit Function
    End If
    InvsyncCheck status
    InvsyncWork = FromUtf8(b, needed)
End Function

' The report of this thread's last run/send/get/preflight (used when its buffer was too small).
#If VBA7 Then
Public Function InvsyncLastReport(ByVal store As LongPtr) As String
#Else
Public Function InvsyncLastReport(ByVal store As Long) As String
#End If
    InvsyncLastReport = InvsyncText(6, store)
End Function
