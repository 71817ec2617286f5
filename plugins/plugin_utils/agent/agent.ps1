param([string]$RequestJson)
# mssql.tls agent, protocol v1 (docs/agent-protocol.md).
#
# Run by the bootstrap of client.py as a ScriptBlock, after it checked this
# file's SHA-256, with the request JSON as -RequestJson. The request is data:
# it is parsed with ConvertFrom-Json, checked against the op table below
# (generated from ops.py) and never evaluated. The agent reads and writes
# primitives only; what a value means is decided in Python.
#
# Layout: op table; errors; request checks; JSON output; helpers per domain
# (registry, certificates, services, cluster, files, journal); one
# Invoke-Op<Name> function per op, each reading its own fields as $op.<field>;
# the dispatch switch (Invoke-AgentOp); the batch runner. The contract tests
# (tests/contract) parse this file and check that layout.
#
# Windows PowerShell 5.1 only: no PowerShell 7 syntax or cmdlet parameters.

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'

# BEGIN GENERATED OP TABLE
# Generated from ops.py by gen.py; edit ops.py and regenerate instead of editing here.
$OpTable = @{
    'reg.read' = @{
        Writes = $false
        Fields = @{
            'path' = @{ Type = 'str'; Required = $true }
            'depth' = @{ Type = 'int'; Required = $false }
            'values' = @{ Type = 'list[str]'; Required = $false }
        }
    }
    'reg.write' = @{
        Writes = $true
        Fields = @{
            'path' = @{ Type = 'str'; Required = $true }
            'name' = @{ Type = 'str'; Required = $true }
            'type' = @{ Type = 'str'; Required = $true }
            'value' = @{ Type = 'dict'; Required = $true }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'reg.remove' = @{
        Writes = $true
        Fields = @{
            'path' = @{ Type = 'str'; Required = $true }
            'name' = @{ Type = 'str'; Required = $false }
            'recurse' = @{ Type = 'bool'; Required = $false }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'reg.create' = @{
        Writes = $true
        Fields = @{
            'path' = @{ Type = 'str'; Required = $true }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'cert.list' = @{
        Writes = $false
        Fields = @{
            'store' = @{ Type = 'str'; Required = $false }
            'thumbprints' = @{ Type = 'list[str]'; Required = $false }
            'key_acl' = @{ Type = 'bool'; Required = $false }
        }
    }
    'cert.key.acl.set' = @{
        Writes = $true
        Fields = @{
            'store' = @{ Type = 'str'; Required = $false }
            'thumbprint' = @{ Type = 'str'; Required = $true }
            'sddl' = @{ Type = 'str'; Required = $true }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'cert.prop.get' = @{
        Writes = $false
        Fields = @{
            'store' = @{ Type = 'str'; Required = $false }
            'thumbprint' = @{ Type = 'str'; Required = $true }
            'prop_id' = @{ Type = 'int'; Required = $true }
        }
    }
    'cert.prop.set' = @{
        Writes = $true
        Fields = @{
            'store' = @{ Type = 'str'; Required = $false }
            'thumbprint' = @{ Type = 'str'; Required = $true }
            'prop_id' = @{ Type = 'int'; Required = $true }
            'data' = @{ Type = 'b64'; Required = $true }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'cert.prop.clear' = @{
        Writes = $true
        Fields = @{
            'store' = @{ Type = 'str'; Required = $false }
            'thumbprint' = @{ Type = 'str'; Required = $true }
            'prop_id' = @{ Type = 'int'; Required = $true }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'svc.query' = @{
        Writes = $false
        Fields = @{
            'names' = @{ Type = 'list[str]'; Required = $true }
            'prefixes' = @{ Type = 'list[str]'; Required = $false }
        }
    }
    'svc.restart' = @{
        Writes = $true
        Fields = @{
            'name' = @{ Type = 'str'; Required = $true }
            'with_dependents' = @{ Type = 'bool'; Required = $false }
            'timeout_s' = @{ Type = 'int'; Required = $false }
        }
    }
    'svc.start' = @{
        Writes = $true
        Fields = @{
            'name' = @{ Type = 'str'; Required = $true }
            'timeout_s' = @{ Type = 'int'; Required = $false }
        }
    }
    'cluster.query' = @{
        Writes = $false
        Fields = @{}
    }
    'cluster.restart' = @{
        Writes = $true
        Fields = @{
            'resource' = @{ Type = 'str'; Required = $true }
            'timeout_s' = @{ Type = 'int'; Required = $false }
        }
    }
    'file.version' = @{
        Writes = $false
        Fields = @{
            'paths' = @{ Type = 'list[str]'; Required = $false }
            'path_from' = @{ Type = 'path_from'; Required = $false }
        }
    }
    'file.tail' = @{
        Writes = $false
        Fields = @{
            'paths' = @{ Type = 'list[str]'; Required = $false }
            'path_from' = @{ Type = 'path_from'; Required = $false }
            'suffixes' = @{ Type = 'list[str]'; Required = $false }
            'max_lines' = @{ Type = 'int'; Required = $false }
            'pattern' = @{ Type = 'str'; Required = $false }
            'patterns' = @{ Type = 'list[str]'; Required = $false }
        }
    }
    'tls.suites' = @{
        Writes = $false
        Fields = @{}
    }
    'tls.suite.disable' = @{
        Writes = $true
        Fields = @{
            'name' = @{ Type = 'str'; Required = $true }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'tls.suite.enable' = @{
        Writes = $true
        Fields = @{
            'name' = @{ Type = 'str'; Required = $true }
            'position' = @{ Type = 'int'; Required = $false }
            'expect' = @{ Type = 'expect'; Required = $false }
        }
    }
    'os.info' = @{
        Writes = $false
        Fields = @{}
    }
    'os.reboot' = @{
        Writes = $true
        Fields = @{
            'reason' = @{ Type = 'str'; Required = $true }
            'delay_s' = @{ Type = 'int'; Required = $false }
        }
    }
    'event.count' = @{
        Writes = $false
        Fields = @{
            'log' = @{ Type = 'str'; Required = $true }
            'provider' = @{ Type = 'str'; Required = $false }
            'ids' = @{ Type = 'list[int]'; Required = $true }
            'since_hours' = @{ Type = 'int'; Required = $false }
        }
    }
    'journal.append' = @{
        Writes = $true
        Fields = @{
            'id' = @{ Type = 'str'; Required = $true }
            'line' = @{ Type = 'str'; Required = $true }
        }
    }
    'journal.read' = @{
        Writes = $false
        Fields = @{
            'id' = @{ Type = 'str'; Required = $false }
            'last' = @{ Type = 'int'; Required = $false }
        }
    }
}
$PathFromFields = @('key', 'value_name', 'value_regex', 'append')
# END GENERATED OP TABLE

$ProtocolVersion = 1
# A regex is data from the request; a timeout keeps a pathological one from hanging the batch.
$RegexTimeout = [TimeSpan]::FromSeconds(5)
# ConvertTo-Json refuses -Depth above 100; a reg.read node costs two levels per key level.
$JsonDepth = 100
$MaxRegDepth = 40
# Certificate properties whose pvData is a CRYPT_DATA_BLOB: 9 = CERT_ENHKEY_USAGE_PROP_ID
# (reference sqlserver-tls.md section 6), 11 = CERT_FRIENDLY_NAME_PROP_ID. Other ids take
# other structures, so writing a blob to them is refused.
$WritableCertPropIds = @(9, 11)
$JournalIdPattern = '^[A-Za-z0-9_.-]{1,64}\z'
$Utf8 = New-Object System.Text.UTF8Encoding($false)

# ---------------------------------------------------------------------------
# Errors: an exception carries its protocol error kind in Data['mssql_tls_kind'] and,
# optionally, structured facts of the failure in Data['mssql_tls_detail'] (the error's
# `detail` object, docs/agent-protocol.md).

function New-AgentError([string]$Kind, [string]$Message) {
    $exception = New-Object System.Exception($Message)
    $exception.Data['mssql_tls_kind'] = $Kind
    return $exception
}

function Add-ErrorDetail([System.Exception]$Exception, $Detail) {
    $Exception.Data['mssql_tls_detail'] = $Detail
    return $Exception
}

# .NET exception types (by full name, so that no assembly has to be loaded to test them).
$ExceptionKinds = @{
    'System.UnauthorizedAccessException'                        = 'access_denied'
    'System.Security.SecurityException'                         = 'access_denied'
    'System.TimeoutException'                                   = 'timeout'
    'System.ServiceProcess.TimeoutException'                    = 'timeout'
    'System.Text.RegularExpressions.RegexMatchTimeoutException' = 'timeout'
    'System.IO.FileNotFoundException'                           = 'not_found'
    'System.IO.DirectoryNotFoundException'                      = 'not_found'
    'System.Management.Automation.ItemNotFoundException'        = 'not_found'
    'System.Management.Automation.CommandNotFoundException'     = 'unsupported'
}
# HRESULTs of Win32 errors: E_ACCESSDENIED, ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND.
$HResultKinds = @{
    -2147024891 = 'access_denied'
    -2147024894 = 'not_found'
    -2147024893 = 'not_found'
}
# Win32Exception.HResult is always E_FAIL: it derives from ExternalException, whose
# constructors set E_FAIL (microsoft/referencesource System/compmod/system/componentmodel/
# Win32Exception.cs and mscorlib ExternalException); the error is in NativeErrorCode, which
# carries a Win32 code (crypt32, the service controller) or an HRESULT/NTE code. 5 and
# 0x80070005 = access denied; 2, 3, 1060 (ERROR_SERVICE_DOES_NOT_EXIST), 0x80092004
# (CRYPT_E_NOT_FOUND) and 0x80090016 (NTE_BAD_KEYSET) = not found; 0x80090010 (NTE_PERM).
$NativeErrorKinds = @{
    5           = 'access_denied'
    -2147024891 = 'access_denied'
    -2146893808 = 'access_denied'
    2           = 'not_found'
    3           = 'not_found'
    1060        = 'not_found'
    -2146885628 = 'not_found'
    -2146893802 = 'not_found'
}
$CimErrorKinds = @{
    'AccessDenied'     = 'access_denied'
    'NotFound'         = 'not_found'
    'InvalidNamespace' = 'not_found'
    'InvalidClass'     = 'not_found'
}

function Get-ErrorKind([System.Exception]$Exception) {
    $current = $Exception
    while ($null -ne $current) {
        if ($current.Data.Contains('mssql_tls_kind')) { return [string]$current.Data['mssql_tls_kind'] }
        $typeName = $current.GetType().FullName
        if ($ExceptionKinds.ContainsKey($typeName)) { return $ExceptionKinds[$typeName] }
        if ($typeName -eq 'Microsoft.Management.Infrastructure.CimException') {
            $cimKind = $CimErrorKinds[[string]$current.NativeErrorCode]
            if ($null -ne $cimKind) { return $cimKind }
        }
        if ($current -is [System.ComponentModel.Win32Exception] -and $NativeErrorKinds.ContainsKey($current.NativeErrorCode)) {
            return $NativeErrorKinds[$current.NativeErrorCode]
        }
        if ($HResultKinds.ContainsKey($current.HResult)) { return $HResultKinds[$current.HResult] }
        $current = $current.InnerException
    }
    return 'error'
}

function Get-ErrorDetail([System.Exception]$Exception) {
    $current = $Exception
    while ($null -ne $current) {
        if ($current.Data.Contains('mssql_tls_detail')) { return $current.Data['mssql_tls_detail'] }
        $current = $current.InnerException
    }
    return $null
}

function ConvertTo-EntryError([System.Exception]$Exception) {
    # The per-entry error of a multi-entry read (docs/agent-protocol.md, "Per-entry errors").
    return [ordered]@{ kind = (Get-ErrorKind $Exception); message = (Get-ErrorMessage $Exception) }
}

function Get-ErrorMessage([System.Exception]$Exception) {
    # PowerShell wraps .NET exceptions ("Exception calling ... with N argument(s)"); the inner text is the fact.
    $current = $Exception
    while ($current -is [System.Management.Automation.MethodInvocationException] -and $null -ne $current.InnerException) {
        $current = $current.InnerException
    }
    return $current.Message
}

# ---------------------------------------------------------------------------
# Request checks against the op table.

function Get-ExactEntry($Table, [string]$Name) {
    # Hashtables compare keys case-insensitively; op and field names are case-sensitive.
    foreach ($key in $Table.Keys) {
        if ($key -ceq $Name) { return $Table[$key] }
    }
    return $null
}

function Test-JsonObject($Value) {
    return ($null -ne $Value -and $Value.GetType().FullName -eq 'System.Management.Automation.PSCustomObject')
}

function Test-JsonInt($Value) {
    return ($Value -is [int] -or $Value -is [long])
}

function Test-Base64([string]$Text) {
    return ($Text.Length % 4 -eq 0 -and $Text -cmatch '^[A-Za-z0-9+/]*={0,2}\z')
}

function Test-JsonList($Value, [string]$ItemType) {
    if ($Value -isnot [array]) { return $false }
    foreach ($item in $Value) {
        if (-not (Test-FieldValue $item $ItemType)) { return $false }
    }
    return $true
}

function Test-PathFromValue($Value) {
    if (-not (Test-JsonObject $Value)) { return $false }
    $hasKey = $false
    foreach ($property in $Value.PSObject.Properties) {
        if ($PathFromFields -cnotcontains $property.Name) { return $false }
        if ($property.Value -isnot [string]) { return $false }
        if ($property.Name -ceq 'key') { $hasKey = $true }
    }
    return $hasKey
}

function Test-FieldValue($Value, [string]$Type) {
    switch -CaseSensitive ($Type) {
        'str' { return ($Value -is [string]) }
        'b64' { return ($Value -is [string] -and (Test-Base64 $Value)) }
        'int' { return (Test-JsonInt $Value) }
        'bool' { return ($Value -is [bool]) }
        'list[str]' { return (Test-JsonList $Value 'str') }
        'list[int]' { return (Test-JsonList $Value 'int') }
        'dict' { return (Test-JsonObject $Value) }
        'path_from' { return (Test-PathFromValue $Value) }
        'expect' { return ($null -eq $Value -or (Test-JsonObject $Value)) }
    }
    return $false
}

function Get-OpSpec($Op) {
    if (-not (Test-JsonObject $Op) -or $Op.op -isnot [string]) { return $null }
    return (Get-ExactEntry $OpTable $Op.op)
}

function Get-OpProblem($Op) {
    # $null when the op matches its spec, else a message naming the bad field (the same wording as ops.py).
    if (-not (Test-JsonObject $Op)) { return 'expected each op to be an object' }
    $name = $Op.op
    if ($name -isnot [string]) { return "field 'op': expected a string" }
    $spec = Get-ExactEntry $OpTable $name
    if ($null -eq $spec) { return ("field 'op': unknown op '{0}'" -f $name) }
    foreach ($property in $Op.PSObject.Properties) {
        if ($property.Name -ceq 'op') { continue }
        $field = Get-ExactEntry $spec['Fields'] $property.Name
        if ($null -eq $field) { return ("op '{0}': unknown field '{1}'" -f $name, $property.Name) }
        if (-not (Test-FieldValue $property.Value $field['Type'])) {
            return ("op '{0}' field '{1}': expected {2}" -f $name, $property.Name, $field['Type'])
        }
    }
    foreach ($fieldName in $spec['Fields'].Keys) {
        if ($spec['Fields'][$fieldName]['Required'] -and $null -eq $Op.PSObject.Properties[$fieldName]) {
            return ("op '{0}': missing required field '{1}'" -f $name, $fieldName)
        }
    }
    return $null
}

function Test-OpField($Op, [string]$Name) {
    # Presence, not value: `expect: null` (must be absent) differs from no `expect` (no precondition).
    return ($null -ne $Op.PSObject.Properties[$Name])
}

function Get-IntField($Value, [long]$Default, [long]$Min, [long]$Max, [string]$Field) {
    if ($null -eq $Value) { return $Default }
    if ($Value -lt $Min -or $Value -gt $Max) {
        throw (New-AgentError 'invalid_request' ("field '{0}': expected {1}..{2}, got {3}" -f $Field, $Min, $Max, $Value))
    }
    return [long]$Value
}

function ConvertFrom-Base64Field([string]$Text, [string]$Field) {
    if ($null -eq $Text -or -not (Test-Base64 $Text)) {
        throw (New-AgentError 'invalid_request' ("field '{0}': expected base64" -f $Field))
    }
    return ,[Convert]::FromBase64String($Text)
}

function New-CheckedRegex($Pattern, [string]$Field) {
    if ($null -eq $Pattern) { return $null }
    try {
        return (New-Object System.Text.RegularExpressions.Regex($Pattern, [System.Text.RegularExpressions.RegexOptions]::None, $RegexTimeout))
    } catch {
        throw (New-AgentError 'invalid_request' ("field '{0}': not a valid .NET regex: {1}" -f $Field, (Get-ErrorMessage $_.Exception)))
    }
}

# ---------------------------------------------------------------------------
# JSON output. ConvertTo-Json on Windows PowerShell 5.1 writes a PSObject-wrapped
# array as {"value":[...],"Count":n}, a DateTime as "\/Date(...)\/" and an enum as a
# number, so the response is first rebuilt from ordered dictionaries, lists and scalars.

function ConvertTo-IsoUtc($Value) {
    if ($null -eq $Value) { return $null }
    return ([DateTime]$Value).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture)
}

function ConvertTo-Base64OrNull($Bytes) {
    if ($null -eq $Bytes) { return $null }
    return [Convert]::ToBase64String([byte[]]$Bytes)
}

function ConvertTo-StringOrNull($Value) {
    if ($null -eq $Value) { return $null }
    $text = [string]$Value
    if ($text -eq '') { return $null }
    return $text
}

function ConvertTo-JsonReady($Value) {
    if ($null -eq $Value) { return $null }
    $base = $Value.PSObject.BaseObject
    if ($base -is [string] -or $base -is [bool]) { return $base }
    if ($base -is [DateTime]) { return (ConvertTo-IsoUtc $base) }
    if ($base -is [enum]) { return $base.ToString() }
    if ($base -is [byte[]]) { return [Convert]::ToBase64String($base) }
    # Keys are added, never indexed: OrderedDictionary also has an [int] indexer, and keys
    # such as registry subkey names '0', '1' must not be taken for positions.
    if ($base -is [System.Collections.IDictionary]) {
        $copy = [ordered]@{}
        foreach ($entry in $base.GetEnumerator()) { $copy.Add([string]$entry.Key, (ConvertTo-JsonReady $entry.Value)) }
        return $copy
    }
    if ($base -is [System.Management.Automation.PSCustomObject]) {
        $copy = [ordered]@{}
        foreach ($property in $Value.PSObject.Properties) { $copy.Add($property.Name, (ConvertTo-JsonReady $property.Value)) }
        return $copy
    }
    if ($base -is [System.Collections.IEnumerable]) {
        $list = New-Object System.Collections.Generic.List[object]
        foreach ($item in $base) { $list.Add((ConvertTo-JsonReady $item)) }
        return ,$list
    }
    if ($base -is [ValueType]) { return $base }
    return $base.ToString()
}

function ConvertTo-AgentJson($Response) {
    $json = ConvertTo-Json -InputObject (ConvertTo-JsonReady $Response) -Depth $JsonDepth -Compress
    # ASCII only (docs/agent-protocol.md, Response): every non-ASCII UTF-16 unit becomes \uXXXX,
    # in one compiled pass (a script-block evaluator would run once per character).
    if (-not [regex]::IsMatch($json, '[^\u0000-\u007F]')) { return $json }
    Initialize-NativeHelpers
    return [MssqlTls.AsciiJson]::Escape($json)
}

# ---------------------------------------------------------------------------
# Registry, through the .NET API only: key names contain '/' (SCHANNEL\Ciphers\AES 128/128),
# which the registry provider may split, and New-Item -Force recreates a key empty
# (reference windows-schannel.md sections 1 and 3).

$RegistryHives = @{
    'HKLM'               = 'LocalMachine'
    'HKEY_LOCAL_MACHINE' = 'LocalMachine'
    'HKCR'               = 'ClassesRoot'
    'HKEY_CLASSES_ROOT'  = 'ClassesRoot'
    'HKU'                = 'Users'
    'HKEY_USERS'         = 'Users'
}

function ConvertTo-RegPath([string]$Path, [string]$Field) {
    $parts = $Path.Split([char]'\')
    $hive = $RegistryHives[$parts[0]]
    if ($null -eq $hive) {
        throw (New-AgentError 'invalid_request' ("field '{0}': expected a path under HKLM, HKCR or HKU, got '{1}'" -f $Field, $Path))
    }
    $segments = New-Object System.Collections.Generic.List[string]
    for ($i = 1; $i -lt $parts.Length; $i++) {
        if ($parts[$i] -eq '') {
            throw (New-AgentError 'invalid_request' ("field '{0}': empty key name in '{1}'" -f $Field, $Path))
        }
        $segments.Add($parts[$i])
    }
    return @{ Hive = $hive; Prefix = $parts[0]; Segments = $segments }
}

function New-RegSubPath($RegPath, [int]$Count) {
    # The path of the key $Count segments below the hive, on the same hive.
    $segments = New-Object System.Collections.Generic.List[string]
    for ($i = 0; $i -lt $Count; $i++) { $segments.Add($RegPath.Segments[$i]) }
    return @{ Hive = $RegPath.Hive; Prefix = $RegPath.Prefix; Segments = $segments }
}

function Get-RegParentPath($RegPath) {
    return (New-RegSubPath $RegPath ($RegPath.Segments.Count - 1))
}

function Open-RegBase([string]$Hive) {
    # The 64-bit view, whatever the bitness of this PowerShell (Registry64 is ignored on 32-bit Windows).
    return [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]$Hive, [Microsoft.Win32.RegistryView]::Registry64)
}

function Open-RegReadOnly($RegPath, [int]$Count) {
    # The key $Count segments down, opened read-only one segment at a time (key names contain
    # '/', so the path is never handed to the API whole); $null when a key on the way is missing.
    # Every handle opened on the way is closed, also when an open fails.
    $key = Open-RegBase $RegPath.Hive
    try {
        for ($i = 0; $i -lt $Count; $i++) {
            $child = $key.OpenSubKey($RegPath.Segments[$i], $false)
            $key.Dispose()
            $key = $child
            if ($null -eq $key) { return $null }
        }
    } catch {
        if ($null -ne $key) { $key.Dispose() }
        throw
    }
    return $key
}

function Open-RegKey($RegPath, [bool]$Writable) {
    # Ancestors are always opened read-only; only the key itself is opened for writing when
    # asked. A key owned by TrustedInstaller grants administrators read access only, so asking
    # KEY_WRITE on every ancestor would refuse a write below it that its own ACL allows.
    $count = $RegPath.Segments.Count
    if (-not $Writable -or $count -eq 0) { return (Open-RegReadOnly $RegPath $count) }
    $parent = Open-RegReadOnly $RegPath ($count - 1)
    if ($null -eq $parent) { return $null }
    try { return $parent.OpenSubKey($RegPath.Segments[$count - 1], $true) } finally { $parent.Dispose() }
}

function Get-ExistingRegDepth($RegPath) {
    # How many leading segments of the path exist, probed read-only.
    $key = Open-RegBase $RegPath.Hive
    $depth = 0
    try {
        while ($depth -lt $RegPath.Segments.Count) {
            $child = $key.OpenSubKey($RegPath.Segments[$depth], $false)
            if ($null -eq $child) { break }
            $key.Dispose()
            $key = $child
            $depth++
        }
    } finally {
        $key.Dispose()
    }
    return $depth
}

function Open-OrCreateRegKey($RegPath, $Created) {
    # Opens the existing key for writing, or creates the missing keys under the deepest existing
    # one. Write access is asked only on the key that changes: the target itself, or the parent
    # of the first key to create (RegCreateKeyEx needs KEY_CREATE_SUB_KEY there, MicrosoftDocs/
    # sdk-api winreg/nf-winreg-regcreatekeyexw.md). No existing key (nor its sibling values) is
    # ever recreated (reference windows-schannel.md section 1).
    $count = $RegPath.Segments.Count
    $existing = Get-ExistingRegDepth $RegPath
    if ($existing -eq $count) { return (Open-RegKey $RegPath $true) }
    $key = Open-RegKey (New-RegSubPath $RegPath $existing) $true
    if ($null -eq $key) { throw (New-AgentError 'conflict' ('{0}: a key on the way was removed while the op ran' -f (Format-RegPath $RegPath))) }
    $walked = Format-RegPath (New-RegSubPath $RegPath $existing)
    try {
        for ($i = $existing; $i -lt $count; $i++) {
            $walked = $walked + '\' + $RegPath.Segments[$i]
            $child = $key.CreateSubKey($RegPath.Segments[$i])
            $Created.Add($walked)
            $key.Dispose()
            $key = $child
        }
    } catch {
        $key.Dispose()
        throw
    }
    return $key
}

function Format-RegPath($RegPath) {
    $text = $RegPath.Prefix
    foreach ($segment in $RegPath.Segments) { $text = $text + '\' + $segment }
    return $text
}

$RegKindNames = @{
    'String'       = 'REG_SZ'
    'ExpandString' = 'REG_EXPAND_SZ'
    'MultiString'  = 'REG_MULTI_SZ'
    'DWord'        = 'REG_DWORD'
    'QWord'        = 'REG_QWORD'
    'Binary'       = 'REG_BINARY'
    'None'         = 'REG_NONE'
}
$RegWriteKinds = @{
    'REG_SZ'        = 'String'
    'REG_EXPAND_SZ' = 'ExpandString'
    'REG_MULTI_SZ'  = 'MultiString'
    'REG_DWORD'     = 'DWord'
    'REG_QWORD'     = 'QWord'
    'REG_BINARY'    = 'Binary'
}

function Test-RegValueName($Key, [string]$Name) {
    # Value names compare case-insensitively, as in the registry.
    foreach ($valueName in $Key.GetValueNames()) {
        if ($valueName -eq $Name) { return $true }
    }
    return $false
}

function Get-RawRegValue($Key, [string]$Name) {
    # {REG_UNKNOWN, base64 of the stored bytes} through RegQueryValueEx; $null when absent.
    Initialize-NativeHelpers
    $raw = [MssqlTls.RegRaw]::Query($Key.Handle, $Name)
    if ($null -eq $raw) { return $null }
    return [ordered]@{ type = 'REG_UNKNOWN'; data = [Convert]::ToBase64String($raw.Data) }
}

function Get-RegValue($Key, [string]$Name) {
    # {type, data} or $null when absent. DWORD/QWORD come back signed as .NET returns them
    # (0xffffffff reads -1, reference windows-schannel.md section 1); EXPAND_SZ is not expanded.
    # .NET returns null for types it does not read (REG_LINK, REG_RESOURCE_LIST, ...) and widens
    # a REG_DWORD longer than 4 bytes to a long or byte[] (microsoft/referencesource mscorlib
    # registrykey.cs, InternalGetValue): those come back as {REG_UNKNOWN, base64 of the raw
    # bytes} (docs/agent-protocol.md, Values), read with RegQueryValueEx.
    if ($null -eq $Key) { return $null }
    $raw = $Key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    if ($null -eq $raw) {
        if (-not (Test-RegValueName $Key $Name)) { return $null }
        return (Get-RawRegValue $Key $Name)
    }
    $type = $RegKindNames[[string]$Key.GetValueKind($Name)]
    if ($null -eq $type) { return (Get-RawRegValue $Key $Name) }
    if ($type -eq 'REG_MULTI_SZ') {
        $strings = New-Object System.Collections.Generic.List[object]
        foreach ($item in $raw) { $strings.Add([string]$item) }
        return [ordered]@{ type = $type; data = $strings }
    }
    if ($type -eq 'REG_DWORD') {
        if ($raw -is [int]) { return [ordered]@{ type = $type; data = $raw } }
        return (Get-RawRegValue $Key $Name)
    }
    if ($type -eq 'REG_QWORD') {
        if ($raw -is [long]) { return [ordered]@{ type = $type; data = $raw } }
        return (Get-RawRegValue $Key $Name)
    }
    if ($raw -is [byte[]]) { return [ordered]@{ type = $type; data = [Convert]::ToBase64String($raw) } }
    return [ordered]@{ type = $type; data = [string]$raw }
}

function Read-RegValueAt($RegPath, [string]$Name) {
    $key = Open-RegKey $RegPath $false
    if ($null -eq $key) { return $null }
    try { return (Get-RegValue $key $Name) } finally { $key.Dispose() }
}

function Read-RegNode($Key, [int]$Depth, $ValueNames) {
    # `values` filters value names at every level read; at the depth limit subkeys map to $null.
    # A subkey that cannot be read (e.g. its ACL denies administrators) maps to $null too and is
    # named in the node's `errors` (docs/agent-protocol.md, per-entry errors); the rest is read.
    # Names are added, not indexed (see ConvertTo-JsonReady): subkey names like '0' are common.
    $values = [ordered]@{}
    foreach ($name in $Key.GetValueNames()) {
        if ($null -ne $ValueNames -and $ValueNames -notcontains $name) { continue }
        $values.Add($name, (Get-RegValue $Key $name))
    }
    $subkeys = [ordered]@{}
    $errors = [ordered]@{}
    foreach ($subName in $Key.GetSubKeyNames()) {
        $node = $null
        if ($Depth -gt 0) {
            try {
                $child = $Key.OpenSubKey($subName, $false)
                if ($null -ne $child) {
                    try { $node = Read-RegNode $child ($Depth - 1) $ValueNames } finally { $child.Dispose() }
                }
            } catch {
                $node = $null
                $errors.Add($subName, (ConvertTo-EntryError $_.Exception))
            }
        }
        $subkeys.Add($subName, $node)
    }
    $result = [ordered]@{ values = $values; subkeys = $subkeys }
    if ($errors.Count -gt 0) { $result.Add('errors', $errors) }
    return $result
}

function ConvertTo-RegData([string]$Type, $Value) {
    # Wire value ({"data": ...}) -> the kind and data that RegistryKey.SetValue takes.
    if (-not (Test-JsonObject $Value) -or $null -eq $Value.PSObject.Properties['data']) {
        throw (New-AgentError 'invalid_request' "field 'value': expected {'data': ...}")
    }
    $data = $Value.data
    $kind = $RegWriteKinds[$Type]
    if ($null -eq $kind -or $Type -cnotmatch '^REG_[A-Z_]+\z') {
        throw (New-AgentError 'invalid_request' ("field 'type': expected one of REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY, got '{0}'" -f $Type))
    }
    if (($kind -eq 'String' -or $kind -eq 'ExpandString') -and $data -is [string]) {
        return @{ Kind = $kind; Data = $data }
    }
    if ($kind -eq 'MultiString' -and (Test-JsonList $data 'str')) {
        $strings = New-Object string[] $data.Count
        for ($i = 0; $i -lt $data.Count; $i++) { $strings[$i] = $data[$i] }
        return @{ Kind = $kind; Data = $strings }
    }
    if ($kind -eq 'DWord' -and (Test-JsonInt $data) -and $data -ge -2147483648 -and $data -le 4294967295) {
        # 0..4294967295 or the signed reading -2147483648..-1: the same 32 bits either way.
        $signed = [long]$data
        if ($signed -gt 2147483647) { $signed = $signed - 4294967296 }
        return @{ Kind = $kind; Data = [int]$signed }
    }
    if ($kind -eq 'QWord' -and (Test-JsonInt $data)) {
        return @{ Kind = $kind; Data = [long]$data }
    }
    if ($kind -eq 'Binary' -and $data -is [string] -and (Test-Base64 $data)) {
        return @{ Kind = $kind; Data = [Convert]::FromBase64String($data) }
    }
    throw (New-AgentError 'invalid_request' ("field 'value.data': not a valid {0} value" -f $Type))
}

function Format-RegValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    $data = $Value['data']
    if ($data -is [System.Collections.IList]) { $data = '[' + ($data -join ', ') + ']' }
    return ('{0} {1}' -f $Value['type'], $data)
}

function Test-RegValueEqual($Current, $Expect) {
    # Exact comparison of type and data (docs/agent-protocol.md, Values).
    if ($null -eq $Current) { return $false }
    if ($Expect.type -cne $Current['type']) { return $false }
    $want = $Expect.data
    $have = $Current['data']
    if ($have -is [System.Collections.IList]) {
        if ($want -isnot [array] -or $want.Count -ne $have.Count) { return $false }
        for ($i = 0; $i -lt $have.Count; $i++) {
            if ($want[$i] -isnot [string] -or $want[$i] -cne $have[$i]) { return $false }
        }
        return $true
    }
    if ($have -is [string]) { return ($want -is [string] -and $want -ceq $have) }
    return ((Test-JsonInt $want) -and [long]$want -eq [long]$have)
}

function Assert-RegExpect([bool]$HasExpect, $Expect, $Current, [string]$Where) {
    # Checked right before the write: a mismatch is a `conflict` and stops the batch.
    if (-not $HasExpect) { return }
    if ($null -eq $Expect) {
        if ($null -ne $Current) {
            throw (New-AgentError 'conflict' ('{0}: expected absent, found {1}' -f $Where, (Format-RegValue $Current)))
        }
        return
    }
    if ($Expect.type -isnot [string] -or $null -eq $Expect.PSObject.Properties['data']) {
        throw (New-AgentError 'invalid_request' "field 'expect': expected null or {'type': ..., 'data': ...}")
    }
    if (-not (Test-RegValueEqual $Current $Expect)) {
        throw (New-AgentError 'conflict' ('{0}: expected {1} {2}, found {3}' -f $Where, $Expect.type, $Expect.data, (Format-RegValue $Current)))
    }
}

function Remove-RegValueAt($RegPath, [string]$Name, [bool]$HasExpect, $Expect, [string]$Where) {
    $before = Read-RegValueAt $RegPath $Name
    Assert-RegExpect $HasExpect $Expect $before $Where
    if ($null -eq $before) { return [ordered]@{ before = $null; removed = $false } }
    $key = Open-RegKey $RegPath $true
    if ($null -eq $key) { return [ordered]@{ before = $null; removed = $false } }
    try { $key.DeleteValue($Name, $false) } finally { $key.Dispose() }
    return [ordered]@{ before = $before; removed = $true }
}

function Remove-RegKeyAt($RegPath, [bool]$Recurse, [bool]$HasExpect, $Expect, [string]$Where) {
    # Without `recurse` only a key without subkeys goes (RegDeleteKey; its values go with it).
    if ($RegPath.Segments.Count -lt 2) {
        throw (New-AgentError 'invalid_request' ("field 'path': refusing to remove the top-level key '{0}'" -f $Where))
    }
    if ($HasExpect) {
        if ($null -eq $Expect) { throw (New-AgentError 'invalid_request' "field 'expect': null is not allowed when removing a whole key") }
        if ($Expect.key -isnot [bool] -or -not $Expect.key) {
            throw (New-AgentError 'invalid_request' "field 'expect': expected {'key': true} (or no precondition) for a key")
        }
    }
    $leaf = $RegPath.Segments[$RegPath.Segments.Count - 1]
    $parent = Open-RegKey (Get-RegParentPath $RegPath) $true
    $existing = $null
    if ($null -ne $parent) { $existing = $parent.OpenSubKey($leaf, $false) }
    try {
        if ($null -eq $existing) {
            if ($HasExpect) { throw (New-AgentError 'conflict' ('{0}: expected the key to exist, found none' -f $Where)) }
            return [ordered]@{ before = $null; removed = $false }
        }
        $subkeyCount = $existing.SubKeyCount
        $existing.Dispose()
        if ($Recurse) {
            $parent.DeleteSubKeyTree($leaf, $false)
        } elseif ($subkeyCount -gt 0) {
            throw (New-AgentError 'error' ('{0}: the key has {1} subkeys; expected recurse=true to remove it' -f $Where, $subkeyCount))
        } else {
            $parent.DeleteSubKey($leaf, $false)
        }
        return [ordered]@{ before = [ordered]@{ key = $true }; removed = $true }
    } finally {
        if ($null -ne $parent) { $parent.Dispose() }
    }
}

function Find-RegKeys($RegPath) {
    # Keys matching a path whose '*' segments match every subkey at that level (path_from).
    # Returns entries @{ Key; Path; Error }: an open key (the caller disposes it), or, for a key
    # that could not be opened or listed, Key = $null and Error = {kind, message}: one denied
    # subkey costs its own entry, not the whole op. On any other failure every key opened so
    # far is closed before the error goes on.
    $level = New-Object System.Collections.Generic.List[object]
    $next = New-Object System.Collections.Generic.List[object]
    $failed = New-Object System.Collections.Generic.List[object]
    $level.Add(@{ Key = (Open-RegBase $RegPath.Hive); Path = $RegPath.Prefix; Error = $null })
    try {
        foreach ($segment in $RegPath.Segments) {
            $next = New-Object System.Collections.Generic.List[object]
            foreach ($entry in $level) {
                try {
                    $names = @($segment)
                    if ($segment -eq '*') { $names = $entry.Key.GetSubKeyNames() }
                    foreach ($name in $names) {
                        $path = $entry.Path + '\' + $name
                        try {
                            $child = $entry.Key.OpenSubKey($name, $false)
                            if ($null -ne $child) { $next.Add(@{ Key = $child; Path = $path; Error = $null }) }
                        } catch {
                            $failed.Add(@{ Key = $null; Path = $path; Error = (ConvertTo-EntryError $_.Exception) })
                        }
                    }
                } catch {
                    $failed.Add(@{ Key = $null; Path = $entry.Path; Error = (ConvertTo-EntryError $_.Exception) })
                } finally {
                    $entry.Key.Dispose()
                    $entry.Key = $null
                }
            }
            $level = $next
        }
    } catch {
        foreach ($entry in @($level) + @($next)) {
            if ($null -ne $entry.Key) { $entry.Key.Dispose() }
        }
        throw
    }
    foreach ($entry in $failed) { $level.Add($entry) }
    return ,$level
}

# ---------------------------------------------------------------------------
# Files and paths.

# The WOW64 file system redirector (MicrosoftDocs/win32 desktop-src/WinProg64/
# file-system-redirector.md): a 32-bit process that opens %windir%\System32 gets
# %windir%\SysWOW64, except in a few subdirectories, and %windir%\Sysnative names the native
# System32. A path stored under Wow6432Node (the 32-bit registry view, e.g. a 32-bit ODBC
# driver's `Driver` value) is a path as the 32-bit process that loads it sees it; this
# 64-bit agent reads the same file by rewriting the path (docs/agent-protocol.md, path_from).
$Wow64ExemptDirs = @('catroot', 'catroot2', 'driverstore', 'drivers\etc', 'logfiles', 'spool')

function Test-Wow64Key([string]$KeyPath) {
    foreach ($segment in $KeyPath.Split([char]'\')) {
        if ($segment -eq 'Wow6432Node') { return $true }
    }
    return $false
}

function Convert-Wow64Path([string]$Path) {
    $windows = [Environment]::GetFolderPath('Windows')
    $native = $windows + '\Sysnative\'
    if ($Path.StartsWith($native, [StringComparison]::OrdinalIgnoreCase)) {
        return ($windows + '\System32\' + $Path.Substring($native.Length))
    }
    $system32 = $windows + '\System32\'
    if (-not $Path.StartsWith($system32, [StringComparison]::OrdinalIgnoreCase)) { return $Path }
    $rest = $Path.Substring($system32.Length)
    foreach ($exempt in $Wow64ExemptDirs) {
        if ($rest.StartsWith($exempt + '\', [StringComparison]::OrdinalIgnoreCase)) { return $Path }
    }
    return ($windows + '\SysWOW64\' + $rest)
}

function Get-PathFromValues($Entry, $Spec, $Regex) {
    # The paths one matching key yields (see Resolve-PathFrom).
    $paths = New-Object System.Collections.Generic.List[object]
    foreach ($name in $Entry.Key.GetValueNames()) {
        if ($null -ne $Spec.value_name -and $name -ne $Spec.value_name) { continue }
        $kind = [string]$Entry.Key.GetValueKind($name)
        if ($kind -ne 'String' -and $kind -ne 'ExpandString') { continue }
        $data = [string]$Entry.Key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        if ($null -ne $Regex) {
            $match = $Regex.Match($data)
            if (-not $match.Success) { continue }
            if ($match.Groups.Count -gt 1 -and $match.Groups[1].Success) { $data = $match.Groups[1].Value }
        }
        if ($null -ne $Spec.append) { $data = $data + $Spec.append }
        $path = [Environment]::ExpandEnvironmentVariables($data)
        if (Test-Wow64Key $Entry.Path) { $path = Convert-Wow64Path $path }
        $paths.Add($path)
    }
    return ,$paths
}

function Resolve-PathFrom($Spec) {
    # docs/agent-protocol.md, path_from: for each matching key and each string value named
    # value_name (all if omitted) whose data matches value_regex (if given): group 1 if the
    # regex has one and it matched, else the whole data; then append; then %VAR% expansion;
    # then, for a key under Wow6432Node, the WOW64 redirection (Convert-Wow64Path).
    # A key that cannot be read yields one target with Path = $null and its Error.
    $found = New-Object System.Collections.Generic.List[object]
    if ($null -eq $Spec) { return ,$found }
    $regPath = ConvertTo-RegPath $Spec.key 'path_from.key'
    $regex = New-CheckedRegex $Spec.value_regex 'path_from.value_regex'
    $entries = Find-RegKeys $regPath
    try {
        foreach ($entry in $entries) {
            if ($null -ne $entry.Error) {
                $found.Add(@{ Path = $null; SourceKey = $entry.Path; Error = $entry.Error })
                continue
            }
            try {
                foreach ($path in (Get-PathFromValues $entry $Spec $regex)) {
                    $found.Add(@{ Path = $path; SourceKey = $entry.Path; Error = $null })
                }
            } catch {
                $found.Add(@{ Path = $null; SourceKey = $entry.Path; Error = (ConvertTo-EntryError $_.Exception) })
            }
        }
    } finally {
        foreach ($entry in $entries) {
            if ($null -ne $entry.Key) { $entry.Key.Dispose() }
        }
    }
    return ,$found
}

function Get-FileTargets($Paths, $PathFrom) {
    # Plain paths first (no source key), then the registry-indirected ones.
    $targets = New-Object System.Collections.Generic.List[object]
    foreach ($path in @($Paths)) {
        if ($null -eq $path) { continue }
        $targets.Add(@{ Path = [Environment]::ExpandEnvironmentVariables($path); SourceKey = $null; Error = $null })
    }
    foreach ($entry in (Resolve-PathFrom $PathFrom)) { $targets.Add($entry) }
    return ,$targets
}

function Read-TextTail([string]$Path, [int]$MaxLines, $Filters) {
    # One pass over the file, in compiled code: for each filter (a regex, or $null for every
    # line) the last MaxLines lines it keeps. The file is opened sharing read, write and delete
    # with SQL Server, which keeps ERRORLOG open for writing; the encoding comes from the BOM
    # (ERRORLOG is UTF-16LE with a BOM, reference sqlserver-tls.md section 3), UTF-8 without one.
    if (-not [System.IO.File]::Exists($Path)) { return $null }
    Initialize-NativeHelpers
    return [MssqlTls.TextTail]::Read($Path, $Filters, $MaxLines)
}

function Read-AllLines([string]$Path) {
    # The non-empty lines of a (small) journal record.
    $stream = New-Object System.IO.FileStream($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]'ReadWrite, Delete')
    try {
        $reader = New-Object System.IO.StreamReader($stream, $Utf8, $true)
        $text = $reader.ReadToEnd()
    } finally {
        $stream.Dispose()
    }
    $lines = New-Object System.Collections.Generic.List[object]
    foreach ($line in $text.Split([char]"`n")) {
        $trimmed = $line.TrimEnd([char]"`r")
        if ($trimmed -ne '') { $lines.Add($trimmed) }
    }
    return ,$lines
}

# ---------------------------------------------------------------------------
# Journal: %ProgramData%\mssql.tls\journal\<id>.jsonl, one JSON document per line.

$JournalSids = @('S-1-5-32-544', 'S-1-5-18')

function New-JournalSecurity {
    # Only administrators and SYSTEM may plant files where an elevated agent appends:
    # a protected DACL (nothing inherited) granting those two FullControl, inherited below,
    # and administrators as the owner: the owner of a folder may always rewrite its DACL, so a
    # folder a user created beforehand would otherwise stay open to that user.
    $security = New-Object System.Security.AccessControl.DirectorySecurity
    $security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier($JournalSids[0])))
    $security.SetAccessRuleProtection($true, $false)
    foreach ($sid in $JournalSids) {
        $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($identity, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')
        $security.AddAccessRule($rule)
    }
    return $security
}

function Test-JournalSecurity($Security) {
    # True when the DACL is protected, allows nobody but administrators and SYSTEM, and one of
    # them owns the folder.
    if (-not $Security.AreAccessRulesProtected) { return $false }
    $owner = $Security.GetOwner([System.Security.Principal.SecurityIdentifier])
    if ($null -eq $owner -or $JournalSids -notcontains $owner.Value) { return $false }
    foreach ($rule in $Security.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        if ($JournalSids -notcontains $rule.IdentityReference.Value) { return $false }
    }
    return $true
}

function Assert-NotReparsePoint([string]$Path) {
    if ([System.IO.Directory]::Exists($Path) -and ([int]([System.IO.File]::GetAttributes($Path) -band [System.IO.FileAttributes]::ReparsePoint)) -ne 0) {
        throw (New-AgentError 'access_denied' ('{0} is a reparse point; refusing to use it for the journal' -f $Path))
    }
}

function Initialize-JournalFolder([string]$Path) {
    # The ACL is applied when the folder is created and also when it already exists without it
    # (created by hand, by a user before the agent, or by an older agent): checked on every
    # write batch, for the mssql.tls folder and the journal folder in it.
    Assert-NotReparsePoint $Path
    if (-not [System.IO.Directory]::Exists($Path)) {
        $null = [System.IO.Directory]::CreateDirectory($Path, (New-JournalSecurity))
    } elseif (-not (Test-JournalSecurity ([System.IO.Directory]::GetAccessControl($Path)))) {
        [System.IO.Directory]::SetAccessControl($Path, (New-JournalSecurity))
    }
}

function Get-JournalDirectory([bool]$Create) {
    if ([string]::IsNullOrEmpty($env:ProgramData)) { throw (New-AgentError 'error' 'ProgramData is not set') }
    $root = [System.IO.Path]::Combine($env:ProgramData, 'mssql.tls')
    $directory = [System.IO.Path]::Combine($root, 'journal')
    Assert-NotReparsePoint $root
    if ($Create) {
        Initialize-JournalFolder $root
        Initialize-JournalFolder $directory
    }
    Assert-NotReparsePoint $root
    Assert-NotReparsePoint $directory
    return $directory
}

function Get-JournalPath([string]$Id, [bool]$Create) {
    if ($Id -cnotmatch $JournalIdPattern) {
        throw (New-AgentError 'invalid_request' ("field 'id': expected 1-64 characters of [A-Za-z0-9_.-], got '{0}'" -f $Id))
    }
    return [System.IO.Path]::Combine((Get-JournalDirectory $Create), $Id + '.jsonl')
}

function Add-JournalLine([string]$Id, [string]$Line, [bool]$New = $false) {
    # Flushed to disk before the op it announces runs (write-ahead). A batch's header starts a
    # new record ($New): two batches in one file would hide the second from rollback.
    if ($Line.Contains("`n") -or $Line.Contains("`r")) {
        throw (New-AgentError 'invalid_request' "field 'line': expected one JSON document without a newline")
    }
    $path = Get-JournalPath $Id $true
    $mode = [System.IO.FileMode]::Append
    if ($New) {
        if ([System.IO.File]::Exists($path)) {
            throw (New-AgentError 'conflict' ("journal record '{0}' already exists: a batch starts a new record" -f $Id))
        }
        $mode = [System.IO.FileMode]::CreateNew
    }
    $bytes = $Utf8.GetBytes($Line + "`r`n")
    $stream = New-Object System.IO.FileStream($path, $mode, [System.IO.FileAccess]::Write, [System.IO.FileShare]::Read)
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
    return $path
}

# ---------------------------------------------------------------------------
# Native helpers: the one Add-Type of the agent, a constant C# block compiled once per
# process and only in batches that need it (certificate properties and private-key ACLs,
# registry values .NET cannot type, the ERRORLOG tail, JSON escaping, the CNG suite list).
# The compiler is the .NET Framework's (C# 5): no newer syntax below.

function Initialize-NativeHelpers {
    if ($null -ne ('MssqlTls.CertProperties' -as [type])) { return }
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;

namespace MssqlTls
{
    // Certificate context properties (reference sqlserver-tls.md section 6).
    public static class CertProperties
    {
        private const int CRYPT_E_NOT_FOUND = unchecked((int)0x80092004);
        private const int CERT_KEY_PROV_INFO_PROP_ID = 2;

        [StructLayout(LayoutKind.Sequential)]
        private struct CRYPT_DATA_BLOB
        {
            public int cbData;
            public IntPtr pbData;
        }

        // CRYPT_KEY_PROV_INFO (MicrosoftDocs/sdk-api wincrypt/ns-wincrypt-crypt_key_prov_info.md).
        [StructLayout(LayoutKind.Sequential)]
        private struct CRYPT_KEY_PROV_INFO
        {
            public IntPtr pwszContainerName;
            public IntPtr pwszProvName;
            public int dwProvType;
            public int dwFlags;
            public int cProvParam;
            public IntPtr rgProvParam;
            public int dwKeySpec;
        }

        [DllImport("crypt32.dll", SetLastError = true)]
        private static extern bool CertGetCertificateContextProperty(IntPtr pCertContext, int dwPropId, byte[] pvData, ref int pcbData);

        [DllImport("crypt32.dll", SetLastError = true, EntryPoint = "CertGetCertificateContextProperty")]
        private static extern bool CertGetCertificateContextPropertyPtr(IntPtr pCertContext, int dwPropId, IntPtr pvData, ref int pcbData);

        [DllImport("crypt32.dll", SetLastError = true)]
        private static extern bool CertSetCertificateContextProperty(IntPtr pCertContext, int dwPropId, int dwFlags, IntPtr pvData);

        // The property bytes, or null when the property is absent.
        public static byte[] Get(IntPtr context, int propId)
        {
            int size = 0;
            if (!CertGetCertificateContextProperty(context, propId, null, ref size))
            {
                int error = Marshal.GetLastWin32Error();
                if (error == CRYPT_E_NOT_FOUND) return null;
                throw new Win32Exception(error);
            }
            byte[] data = new byte[size];
            if (!CertGetCertificateContextProperty(context, propId, data, ref size))
                throw new Win32Exception(Marshal.GetLastWin32Error());
            if (size != data.Length) Array.Resize(ref data, size);
            return data;
        }

        // Property 2 decoded, or null when the certificate has none. The structure's string
        // pointers point into the buffer crypt32 filled, so the buffer is unmanaged memory that
        // cannot move while they are read. Nothing here opens the private key.
        public static KeyProvInfo GetKeyProvInfo(IntPtr context)
        {
            int size = 0;
            if (!CertGetCertificateContextPropertyPtr(context, CERT_KEY_PROV_INFO_PROP_ID, IntPtr.Zero, ref size))
            {
                int error = Marshal.GetLastWin32Error();
                if (error == CRYPT_E_NOT_FOUND) return null;
                throw new Win32Exception(error);
            }
            IntPtr buffer = Marshal.AllocHGlobal(size);
            try
            {
                if (!CertGetCertificateContextPropertyPtr(context, CERT_KEY_PROV_INFO_PROP_ID, buffer, ref size))
                    throw new Win32Exception(Marshal.GetLastWin32Error());
                CRYPT_KEY_PROV_INFO raw = (CRYPT_KEY_PROV_INFO)Marshal.PtrToStructure(buffer, typeof(CRYPT_KEY_PROV_INFO));
                KeyProvInfo info = new KeyProvInfo();
                info.Container = raw.pwszContainerName == IntPtr.Zero ? null : Marshal.PtrToStringUni(raw.pwszContainerName);
                info.Provider = raw.pwszProvName == IntPtr.Zero ? null : Marshal.PtrToStringUni(raw.pwszProvName);
                info.ProviderType = raw.dwProvType;
                info.Flags = raw.dwFlags;
                info.KeySpec = raw.dwKeySpec;
                return info;
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }

        // Without CERT_SET_PROPERTY_INHIBIT_PERSIST_FLAG the change is persisted to the store.
        public static void Set(IntPtr context, int propId, byte[] data)
        {
            GCHandle pinned = GCHandle.Alloc(data, GCHandleType.Pinned);
            IntPtr blob = Marshal.AllocHGlobal(Marshal.SizeOf(typeof(CRYPT_DATA_BLOB)));
            try
            {
                CRYPT_DATA_BLOB value;
                value.cbData = data.Length;
                value.pbData = pinned.AddrOfPinnedObject();
                Marshal.StructureToPtr(value, blob, false);
                if (!CertSetCertificateContextProperty(context, propId, 0, blob))
                    throw new Win32Exception(Marshal.GetLastWin32Error());
            }
            finally
            {
                Marshal.FreeHGlobal(blob);
                pinned.Free();
            }
        }

        // A NULL pvData deletes the property; deleting an absent one is not an error.
        public static void Clear(IntPtr context, int propId)
        {
            if (!CertSetCertificateContextProperty(context, propId, 0, IntPtr.Zero))
            {
                int error = Marshal.GetLastWin32Error();
                if (error != CRYPT_E_NOT_FOUND) throw new Win32Exception(error);
            }
        }
    }

    public sealed class KeyProvInfo
    {
        public string Container;
        public string Provider;
        public int ProviderType;   // 0 = a CNG key storage provider
        public int Flags;          // CRYPT_MACHINE_KEYSET 0x20, CRYPT_SILENT 0x40, ...
        public int KeySpec;        // AT_KEYEXCHANGE 1, AT_SIGNATURE 2
    }

    // The DACL of a private key, read and written through its provider, never by opening or
    // exporting the key material: CryptAcquireContext + Crypt{Get,Set}ProvParam(PP_KEYSET_SEC_DESCR)
    // for CSP keys (MicrosoftDocs/sdk-api wincrypt/nf-wincrypt-cryptacquirecontextw.md,
    // nf-wincrypt-cryptgetprovparam.md, nf-wincrypt-cryptsetprovparam.md); NCryptOpenStorageProvider
    // + NCryptOpenKey + NCrypt{Get,Set}Property("Security Descr") for CNG keys (sdk-api
    // ncrypt/nf-ncrypt-ncryptopenstorageprovider.md, nf-ncrypt-ncryptopenkey.md,
    // nf-ncrypt-ncryptgetproperty.md, nf-ncrypt-ncryptsetproperty.md; MicrosoftDocs/win32
    // desktop-src/SecCNG/key-storage-property-identifiers.md). The bytes are a self-relative
    // SECURITY_DESCRIPTOR holding the DACL only (DACL_SECURITY_INFORMATION).
    public static class KeyAcl
    {
        private const int PP_KEYSET_SEC_DESCR = 8;
        private const int DACL_SECURITY_INFORMATION = 4;
        private const int CRYPT_MACHINE_KEYSET = 0x20;
        private const int CRYPT_SILENT = 0x40;
        private const int NCRYPT_MACHINE_KEY_FLAG = 0x20;
        private const int NCRYPT_SILENT_FLAG = 0x40;
        private const string NCRYPT_SECURITY_DESCR_PROPERTY = "Security Descr";

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "CryptAcquireContextW")]
        private static extern bool CryptAcquireContext(out IntPtr phProv, string pszContainer, string pszProvider, int dwProvType, int dwFlags);

        [DllImport("advapi32.dll", SetLastError = true)]
        private static extern bool CryptGetProvParam(IntPtr hProv, int dwParam, byte[] pbData, ref int pdwDataLen, int dwFlags);

        [DllImport("advapi32.dll", SetLastError = true)]
        private static extern bool CryptSetProvParam(IntPtr hProv, int dwParam, byte[] pbData, int dwFlags);

        [DllImport("advapi32.dll", SetLastError = true)]
        private static extern bool CryptReleaseContext(IntPtr hProv, int dwFlags);

        [DllImport("ncrypt.dll", CharSet = CharSet.Unicode)]
        private static extern int NCryptOpenStorageProvider(out IntPtr phProvider, string pszProviderName, int dwFlags);

        [DllImport("ncrypt.dll", CharSet = CharSet.Unicode)]
        private static extern int NCryptOpenKey(IntPtr hProvider, out IntPtr phKey, string pszKeyName, int dwLegacyKeySpec, int dwFlags);

        [DllImport("ncrypt.dll", CharSet = CharSet.Unicode)]
        private static extern int NCryptGetProperty(IntPtr hObject, string pszProperty, byte[] pbOutput, int cbOutput, out int pcbResult, int dwFlags);

        [DllImport("ncrypt.dll", CharSet = CharSet.Unicode)]
        private static extern int NCryptSetProperty(IntPtr hObject, string pszProperty, byte[] pbInput, int cbInput, int dwFlags);

        [DllImport("ncrypt.dll")]
        private static extern int NCryptFreeObject(IntPtr hObject);

        private static IntPtr AcquireCsp(KeyProvInfo info)
        {
            IntPtr provider;
            int flags = (info.Flags & CRYPT_MACHINE_KEYSET) | CRYPT_SILENT;
            if (!CryptAcquireContext(out provider, info.Container, info.Provider, info.ProviderType, flags))
                throw new Win32Exception(Marshal.GetLastWin32Error());
            return provider;
        }

        private static void OpenCng(KeyProvInfo info, out IntPtr provider, out IntPtr key)
        {
            key = IntPtr.Zero;
            int status = NCryptOpenStorageProvider(out provider, info.Provider, 0);
            if (status != 0) throw new Win32Exception(status);
            int flags = ((info.Flags & NCRYPT_MACHINE_KEY_FLAG) != 0 ? NCRYPT_MACHINE_KEY_FLAG : 0) | NCRYPT_SILENT_FLAG;
            status = NCryptOpenKey(provider, out key, info.Container, info.KeySpec, flags);
            if (status != 0)
            {
                NCryptFreeObject(provider);
                throw new Win32Exception(status);
            }
        }

        public static byte[] Get(KeyProvInfo info)
        {
            if (info.ProviderType != 0)
            {
                IntPtr provider = AcquireCsp(info);
                try
                {
                    int size = 0;
                    if (!CryptGetProvParam(provider, PP_KEYSET_SEC_DESCR, null, ref size, DACL_SECURITY_INFORMATION))
                        throw new Win32Exception(Marshal.GetLastWin32Error());
                    byte[] data = new byte[size];
                    if (!CryptGetProvParam(provider, PP_KEYSET_SEC_DESCR, data, ref size, DACL_SECURITY_INFORMATION))
                        throw new Win32Exception(Marshal.GetLastWin32Error());
                    if (size != data.Length) Array.Resize(ref data, size);
                    return data;
                }
                finally
                {
                    CryptReleaseContext(provider, 0);
                }
            }
            IntPtr storage;
            IntPtr key;
            OpenCng(info, out storage, out key);
            try
            {
                int size;
                int status = NCryptGetProperty(key, NCRYPT_SECURITY_DESCR_PROPERTY, null, 0, out size, DACL_SECURITY_INFORMATION);
                if (status != 0) throw new Win32Exception(status);
                byte[] data = new byte[size];
                status = NCryptGetProperty(key, NCRYPT_SECURITY_DESCR_PROPERTY, data, data.Length, out size, DACL_SECURITY_INFORMATION);
                if (status != 0) throw new Win32Exception(status);
                if (size != data.Length) Array.Resize(ref data, size);
                return data;
            }
            finally
            {
                NCryptFreeObject(key);
                NCryptFreeObject(storage);
            }
        }

        public static void Set(KeyProvInfo info, byte[] descriptor)
        {
            if (info.ProviderType != 0)
            {
                IntPtr provider = AcquireCsp(info);
                try
                {
                    if (!CryptSetProvParam(provider, PP_KEYSET_SEC_DESCR, descriptor, DACL_SECURITY_INFORMATION))
                        throw new Win32Exception(Marshal.GetLastWin32Error());
                }
                finally
                {
                    CryptReleaseContext(provider, 0);
                }
                return;
            }
            IntPtr storage;
            IntPtr key;
            OpenCng(info, out storage, out key);
            try
            {
                int status = NCryptSetProperty(key, NCRYPT_SECURITY_DESCR_PROPERTY, descriptor, descriptor.Length, DACL_SECURITY_INFORMATION);
                if (status != 0) throw new Win32Exception(status);
            }
            finally
            {
                NCryptFreeObject(key);
                NCryptFreeObject(storage);
            }
        }
    }

    public sealed class RawRegValue
    {
        public int Type;
        public byte[] Data;
    }

    // The stored bytes of one registry value, whatever its type (RegQueryValueEx).
    public static class RegRaw
    {
        private const int ERROR_FILE_NOT_FOUND = 2;
        private const int ERROR_MORE_DATA = 234;

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, EntryPoint = "RegQueryValueExW")]
        private static extern int RegQueryValueEx(SafeRegistryHandle hKey, string lpValueName, IntPtr lpReserved, out int lpType, byte[] lpData, ref int lpcbData);

        // null when the value does not exist.
        public static RawRegValue Query(SafeRegistryHandle key, string name)
        {
            for (int attempt = 0; attempt < 4; attempt++)
            {
                int type;
                int size = 0;
                int status = RegQueryValueEx(key, name, IntPtr.Zero, out type, null, ref size);
                if (status == ERROR_FILE_NOT_FOUND) return null;
                if (status != 0 && status != ERROR_MORE_DATA) throw new Win32Exception(status);
                byte[] data = new byte[size];
                status = RegQueryValueEx(key, name, IntPtr.Zero, out type, data, ref size);
                if (status == ERROR_MORE_DATA) continue;  // the value grew in between
                if (status == ERROR_FILE_NOT_FOUND) return null;
                if (status != 0) throw new Win32Exception(status);
                if (size != data.Length) Array.Resize(ref data, size);
                RawRegValue value = new RawRegValue();
                value.Type = type;
                value.Data = data;
                return value;
            }
            throw new Win32Exception(ERROR_MORE_DATA);
        }
    }

    // The Local (CNG) Schannel suite list in priority order: BCryptEnumContextFunctions(CRYPT_LOCAL,
    // "SSL", NCRYPT_SCHANNEL_INTERFACE) (MicrosoftDocs/sdk-api bcrypt/nf-bcrypt-bcryptenumcontextfunctions.md;
    // reference windows-schannel.md section 4).
    public static class CngConfig
    {
        private const int CRYPT_LOCAL = 1;
        private const int NCRYPT_SCHANNEL_INTERFACE = 0x00010002;
        private const int STATUS_NOT_FOUND = unchecked((int)0xC0000225);

        [StructLayout(LayoutKind.Sequential)]
        private struct CRYPT_CONTEXT_FUNCTIONS
        {
            public int cFunctions;
            public IntPtr rgpszFunctions;
        }

        [DllImport("bcrypt.dll", CharSet = CharSet.Unicode)]
        private static extern int BCryptEnumContextFunctions(int dwTable, string pszContext, int dwInterface, ref int pcbBuffer, ref IntPtr ppBuffer);

        [DllImport("bcrypt.dll")]
        private static extern void BCryptFreeBuffer(IntPtr pvBuffer);

        public static string[] LocalSchannelSuites()
        {
            int size = 0;
            IntPtr buffer = IntPtr.Zero;
            int status = BCryptEnumContextFunctions(CRYPT_LOCAL, "SSL", NCRYPT_SCHANNEL_INTERFACE, ref size, ref buffer);
            if (status == STATUS_NOT_FOUND) return new string[0];
            if (status != 0) throw new Win32Exception(status);
            try
            {
                CRYPT_CONTEXT_FUNCTIONS list = (CRYPT_CONTEXT_FUNCTIONS)Marshal.PtrToStructure(buffer, typeof(CRYPT_CONTEXT_FUNCTIONS));
                string[] names = new string[list.cFunctions];
                for (int i = 0; i < list.cFunctions; i++)
                    names[i] = Marshal.PtrToStringUni(Marshal.ReadIntPtr(list.rgpszFunctions, i * IntPtr.Size));
                return names;
            }
            finally
            {
                BCryptFreeBuffer(buffer);
            }
        }
    }

    public sealed class TailResult
    {
        public string Encoding;
        public List<string>[] Kept;
    }

    // One pass over a text file: for each filter (a regex, or null for every line) the last
    // maxLines lines it matches. Shares read, write and delete with the writer (SQL Server keeps
    // ERRORLOG open); the encoding comes from the BOM, UTF-8 without one.
    public static class TextTail
    {
        public static TailResult Read(string path, Regex[] filters, int maxLines)
        {
            Queue<string>[] kept = new Queue<string>[filters.Length];
            for (int i = 0; i < filters.Length; i++) kept[i] = new Queue<string>();
            TailResult result = new TailResult();
            using (FileStream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                byte[] bom = new byte[3];
                int count = 0;
                while (count < 3)
                {
                    int read = stream.Read(bom, count, 3 - count);
                    if (read == 0) break;
                    count += read;
                }
                Encoding encoding;
                int skip;
                if (count >= 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF) { result.Encoding = "utf-8-bom"; encoding = new UTF8Encoding(false); skip = 3; }
                else if (count >= 2 && bom[0] == 0xFF && bom[1] == 0xFE) { result.Encoding = "utf-16le"; encoding = new UnicodeEncoding(false, false); skip = 2; }
                else if (count >= 2 && bom[0] == 0xFE && bom[1] == 0xFF) { result.Encoding = "utf-16be"; encoding = new UnicodeEncoding(true, false); skip = 2; }
                else { result.Encoding = "utf-8"; encoding = new UTF8Encoding(false); skip = 0; }
                stream.Seek(skip, SeekOrigin.Begin);
                using (StreamReader reader = new StreamReader(stream, encoding, false))
                {
                    string line;
                    while ((line = reader.ReadLine()) != null)
                    {
                        for (int i = 0; i < filters.Length; i++)
                        {
                            if (filters[i] != null && !filters[i].IsMatch(line)) continue;
                            kept[i].Enqueue(line);
                            if (kept[i].Count > maxLines) kept[i].Dequeue();
                        }
                    }
                }
            }
            result.Kept = new List<string>[filters.Length];
            for (int i = 0; i < filters.Length; i++) result.Kept[i] = new List<string>(kept[i]);
            return result;
        }
    }

    // Non-ASCII UTF-16 units as \uXXXX (the response is ASCII only, docs/agent-protocol.md).
    public static class AsciiJson
    {
        public static string Escape(string json)
        {
            StringBuilder text = new StringBuilder(json.Length + 16);
            foreach (char c in json)
            {
                if (c < 0x80) text.Append(c);
                else text.Append("\\u").Append(((int)c).ToString("x4"));
            }
            return text.ToString();
        }
    }
}
'@
}

function Assert-Thumbprint([string]$Thumbprint) {
    if ($Thumbprint -cnotmatch '^[0-9A-Fa-f]{40}\z') {
        throw (New-AgentError 'invalid_request' ("field 'thumbprint': expected 40 hex digits, got '{0}'" -f $Thumbprint))
    }
    return $Thumbprint.ToUpperInvariant()
}

function Open-CertStore($Name, [bool]$Writable) {
    if ($null -eq $Name) { $Name = 'My' }
    if ($Name -cnotmatch '^[A-Za-z0-9 _.-]{1,64}\z') {
        throw (New-AgentError 'invalid_request' ("field 'store': expected a LocalMachine store name, got '{0}'" -f $Name))
    }
    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store($Name, [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
    $flags = [System.Security.Cryptography.X509Certificates.OpenFlags]::OpenExistingOnly
    if ($Writable) { $flags = $flags -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::ReadWrite }
    try {
        $store.Open($flags)
    } catch {
        throw (New-AgentError (Get-ErrorKind $_.Exception) ('cannot open LocalMachine\{0}: {1}' -f $Name, (Get-ErrorMessage $_.Exception)))
    }
    return $store
}

function Find-StoreCert($Store, [string]$Thumbprint) {
    foreach ($cert in $Store.Certificates) {
        if ($cert.Thumbprint -eq $Thumbprint) { return $cert }
    }
    throw (New-AgentError 'not_found' ('certificate {0} not found in LocalMachine\{1}' -f $Thumbprint, $Store.Name))
}

function ConvertFrom-KeyProvInfo($Info) {
    # Property 2 (CERT_KEY_PROV_INFO_PROP_ID) as the protocol reports it: the fields of
    # CRYPT_KEY_PROV_INFO (provider_type 0 = a CNG key storage provider), never its pointers.
    if ($null -eq $Info) { return $null }
    return [ordered]@{
        container     = $Info.Container
        provider      = $Info.Provider
        provider_type = $Info.ProviderType
        flags         = $Info.Flags
        key_spec      = $Info.KeySpec
    }
}

function Get-KeyKind($Info) {
    if ($Info.ProviderType -eq 0) { return 'cng' }
    return 'csp'
}

function Get-KeyAcl($Info) {
    # {kind, sddl}: the private key's DACL, read through its CSP or KSP (MssqlTls.KeyAcl) and
    # rendered as SDDL by RawSecurityDescriptor (the DACL section only, 'D:...').
    $bytes = [MssqlTls.KeyAcl]::Get($Info)
    $descriptor = New-Object System.Security.AccessControl.RawSecurityDescriptor($bytes, 0)
    return [ordered]@{
        kind = Get-KeyKind $Info
        sddl = $descriptor.GetSddlForm([System.Security.AccessControl.AccessControlSections]::Access)
    }
}

function ConvertFrom-DaclSddl([string]$Sddl) {
    # A security descriptor holding a DACL only; anything else is an invalid request.
    $descriptor = $null
    try {
        if ($Sddl -cmatch '^D:') { $descriptor = New-Object System.Security.AccessControl.RawSecurityDescriptor($Sddl) }
    } catch {
        $descriptor = $null
    }
    if ($null -eq $descriptor -or $null -eq $descriptor.DiscretionaryAcl -or $null -ne $descriptor.Owner -or $null -ne $descriptor.Group -or $null -ne $descriptor.SystemAcl) {
        throw (New-AgentError 'invalid_request' ("field 'sddl': expected a DACL in SDDL form ('D:...'), got '{0}'" -f $Sddl))
    }
    $bytes = New-Object byte[] $descriptor.BinaryLength
    $descriptor.GetBinaryForm($bytes, 0)
    return ,$bytes
}

function Get-CertEntry($Cert, [bool]$WithKeyAcl) {
    # Key facts come from property 2 of the certificate context, which names the key without
    # opening it: `PrivateKey` / GetRSAPrivateKey() open the key and fail (reporting nothing)
    # where the administrator cannot read it (keys restricted to the SQL service account) or
    # the key lives on an HSM (docs/agent-protocol.md, cert.list).
    $info = [MssqlTls.CertProperties]::GetKeyProvInfo($Cert.Handle)
    $entry = [ordered]@{
        thumbprint        = $Cert.Thumbprint.ToUpperInvariant()
        der               = [Convert]::ToBase64String($Cert.RawData)
        has_private_key   = [bool]$Cert.HasPrivateKey
        key_provider      = $null
        key_provider_type = $null
        key_spec          = $null
        key_container     = $null
        prop9             = ConvertTo-Base64OrNull ([MssqlTls.CertProperties]::Get($Cert.Handle, 9))
    }
    if ($null -ne $info) {
        $entry['key_provider'] = $info.Provider
        $entry['key_provider_type'] = $info.ProviderType
        $entry['key_spec'] = $info.KeySpec
        $entry['key_container'] = $info.Container
    }
    if ($WithKeyAcl) {
        $entry.Add('key_acl', $null)
        $entry.Add('key_acl_error', $null)
        if ($null -ne $info -and $Cert.HasPrivateKey) {
            try { $entry['key_acl'] = Get-KeyAcl $info } catch { $entry['key_acl_error'] = ConvertTo-EntryError $_.Exception }
        }
    }
    return $entry
}

function Assert-CertExpect([bool]$HasExpect, $Expect, $Current, [string]$Where) {
    if (-not $HasExpect) { return }
    $found = ConvertTo-Base64OrNull $Current
    if ($null -eq $Expect) {
        if ($null -ne $Current) { throw (New-AgentError 'conflict' ('{0}: expected absent, found {1}' -f $Where, $found)) }
        return
    }
    if ($Expect.data -isnot [string]) {
        throw (New-AgentError 'invalid_request' "field 'expect': expected null or {'data': <base64>}")
    }
    $wanted = [Convert]::ToBase64String((ConvertFrom-Base64Field $Expect.data 'expect.data'))
    if ($wanted -cne $found) {
        throw (New-AgentError 'conflict' ('{0}: expected {1}, found {2}' -f $Where, $wanted, $found))
    }
}

function Assert-WritablePropId([long]$PropId) {
    if ($WritableCertPropIds -notcontains $PropId) {
        throw (New-AgentError 'invalid_request' ("field 'prop_id': only properties {0} can be written, got {1}" -f ($WritableCertPropIds -join ', '), $PropId))
    }
    return [int]$PropId
}

# ---------------------------------------------------------------------------
# Services (reference sqlserver-tls.md sections 10 and 12).

function Get-ServiceIndex {
    # Every service by name; Get-Service -Name would treat wildcard characters in a name as a pattern.
    $index = @{}
    foreach ($service in @(Get-Service)) { $index[$service.ServiceName] = $service }
    return $index
}

function Get-ServiceStartModes {
    # Win32_Service.StartMode says 'Auto'; ServiceController.StartType needs .NET 4.6.1.
    $modes = @{}
    foreach ($service in @(Get-CimInstance -ClassName Win32_Service)) {
        $mode = [string]$service.StartMode
        if ($mode -eq 'Auto') { $mode = 'Automatic' }
        $modes[[string]$service.Name] = $mode
    }
    return $modes
}

function Get-DependentNames($Service) {
    $names = New-Object System.Collections.Generic.List[object]
    foreach ($dependent in $Service.DependentServices) { $names.Add([string]$dependent.ServiceName) }
    return ,$names
}

# ServiceController.Stop() stops every dependent that is not Stopped before the service
# itself (microsoft/referencesource System.ServiceProcess/ServiceController.cs, Stop()), so a
# restart accounts for each of them: those on their way to Running are stopped and started
# again; a Paused one cannot be brought back to Paused by a restart, so the restart is
# refused before anything stops; one already stopping is waited for and stays stopped.
$RestartedDependentStates = @('Running', 'StartPending', 'ContinuePending')
$UnrestorableDependentStates = @('Paused', 'PausePending')
$ServicePollMilliseconds = 250

function Get-ServiceExitCodes([string]$Name) {
    # Win32_Service ExitCode and ServiceSpecificExitCode (MicrosoftDocs/win32
    # desktop-src/CIMWin32Prov/win32-service.md); ExitCode 1066 (ERROR_SERVICE_SPECIFIC_ERROR)
    # says the service put its own code in ServiceSpecificExitCode. The class is enumerated and
    # filtered here, so that no request content ends up in a WQL filter.
    foreach ($service in @(Get-CimInstance -ClassName Win32_Service)) {
        if ([string]$service.Name -eq $Name) {
            return @{ ExitCode = [long]$service.ExitCode; Specific = [long]$service.ServiceSpecificExitCode }
        }
    }
    return @{ ExitCode = $null; Specific = $null }
}

function New-StartFailure($Service, [string]$State) {
    $codes = Get-ServiceExitCodes $Service.ServiceName
    $message = "service '{0}' failed to start: it is {1} (exit code {2}, service-specific exit code {3})" -f $Service.ServiceName, $State, $codes.ExitCode, $codes.Specific
    $detail = [ordered]@{ state = $State; exit_code = $codes.ExitCode; service_specific_exit_code = $codes.Specific }
    return (Add-ErrorDetail (New-AgentError 'error' $message) $detail)
}

function Wait-ServiceState($Service, [string]$Target, [DateTime]$Deadline) {
    # Polls the status. ServiceController.WaitForStatus waits for one state only (same source,
    # WaitForStatus), so SQL Server going StartPending -> Stopped (a bad certificate or binding
    # does exactly that) would wait out the whole timeout and read as a timeout: a service
    # that is Stopped while it should reach Running failed to start, and says so at once.
    while ($true) {
        $Service.Refresh()
        $status = [string]$Service.Status
        if ($status -eq $Target) { return }
        if ($Target -eq 'Running' -and $status -eq 'Stopped') { throw (New-StartFailure $Service $status) }
        if ([DateTime]::UtcNow -ge $Deadline) {
            throw (New-AgentError 'timeout' ("service '{0}' did not reach {1} in time (state {2})" -f $Service.ServiceName, $Target, $status))
        }
        Start-Sleep -Milliseconds $ServicePollMilliseconds
    }
}

function Stop-ServiceAndWait($Service, [DateTime]$Deadline) {
    $Service.Refresh()
    $status = [string]$Service.Status
    if ($status -eq 'Stopped') { return }
    if ($status -ne 'StopPending') { $Service.Stop() }
    Wait-ServiceState $Service 'Stopped' $Deadline
}

function Start-ServiceAndWait($Service, [DateTime]$Deadline) {
    $Service.Refresh()
    $status = [string]$Service.Status
    if ($status -eq 'Running') { return }
    if ($status -eq 'StopPending') {
        Wait-ServiceState $Service 'Stopped' $Deadline
        $status = 'Stopped'
    }
    if ($status -eq 'Stopped') {
        try {
            $Service.Start()
        } catch {
            # StartService itself failed (e.g. 1068: a dependency did not start): same report.
            $kind = Get-ErrorKind $_.Exception
            $reason = Get-ErrorMessage $_.Exception
            $Service.Refresh()
            $failure = New-StartFailure $Service ([string]$Service.Status)
            throw (Add-ErrorDetail (New-AgentError $kind ('{0}: {1}' -f $failure.Message, $reason)) (Get-ErrorDetail $failure))
        }
    }
    Wait-ServiceState $Service 'Running' $Deadline
}

function Get-DependentsToRestart($Service) {
    # The dependents a restart stops and starts again, in stop order (DependentServices lists
    # every direct and indirect dependent, dependents of a dependent first), and those already
    # stopping. Refuses, before anything stops, when one is Paused.
    $restart = New-Object System.Collections.Generic.List[object]
    $stopping = New-Object System.Collections.Generic.List[object]
    $paused = New-Object System.Collections.Generic.List[object]
    foreach ($dependent in $Service.DependentServices) {
        $dependent.Refresh()
        $status = [string]$dependent.Status
        if ($RestartedDependentStates -contains $status) { $restart.Add($dependent) }
        elseif ($UnrestorableDependentStates -contains $status) { $paused.Add(('{0} ({1})' -f $dependent.ServiceName, $status)) }
        elseif ($status -eq 'StopPending') { $stopping.Add($dependent) }
    }
    if ($paused.Count -gt 0) {
        throw (New-AgentError 'error' ("service '{0}' has dependents a restart cannot bring back to their state: {1}; resume or stop them first" -f $Service.ServiceName, ($paused -join ', ')))
    }
    return @{ Restart = $restart; Stopping = $stopping }
}

function Restart-ServiceWithDependents($Service, [string]$StartMode, [bool]$WithDependents, [long]$TimeoutSeconds) {
    # Record the dependents that are not stopped, stop them (in DependentServices order), stop
    # the service, start it, then start those dependents in reverse order.
    if ($StartMode -eq 'Disabled') {
        throw (New-AgentError 'error' ("service '{0}' is disabled and cannot be restarted" -f $Service.ServiceName))
    }
    $dependents = Get-DependentsToRestart $Service
    $running = $dependents.Restart
    if ($running.Count -gt 0 -and -not $WithDependents) {
        $names = New-Object System.Collections.Generic.List[string]
        foreach ($dependent in $running) { $names.Add($dependent.ServiceName) }
        throw (New-AgentError 'error' ("service '{0}' has running dependents ({1}); expected with_dependents=true" -f $Service.ServiceName, ($names -join ', ')))
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $stopped = New-Object System.Collections.Generic.List[object]
    $started = New-Object System.Collections.Generic.List[object]
    try {
        foreach ($dependent in $dependents.Stopping) { Wait-ServiceState $dependent 'Stopped' $deadline }
        foreach ($dependent in $running) {
            Stop-ServiceAndWait $dependent $deadline
            $stopped.Add($dependent.ServiceName)
        }
        $Service.Refresh()
        if ([string]$Service.Status -ne 'Stopped') {
            Stop-ServiceAndWait $Service $deadline
            $stopped.Add($Service.ServiceName)
        }
        Start-ServiceAndWait $Service $deadline
        $started.Add($Service.ServiceName)
        for ($i = $running.Count - 1; $i -ge 0; $i--) {
            Start-ServiceAndWait $running[$i] $deadline
            $started.Add($running[$i].ServiceName)
        }
    } catch {
        # The caller learns which services are down now: stopped and not started again.
        $message = '{0} (stopped: [{1}]; started: [{2}])' -f (Get-ErrorMessage $_.Exception), ($stopped -join ', '), ($started -join ', ')
        $detail = [ordered]@{}
        $inner = Get-ErrorDetail $_.Exception
        if ($null -ne $inner) { foreach ($entry in $inner.GetEnumerator()) { $detail.Add($entry.Key, $entry.Value) } }
        $detail.Add('stopped', $stopped)
        $detail.Add('started', $started)
        throw (Add-ErrorDetail (New-AgentError (Get-ErrorKind $_.Exception) $message) $detail)
    }
    $Service.Refresh()
    return [ordered]@{ stopped = $stopped; started = $started; state = [string]$Service.Status }
}

function Get-DependencyOrder($Service, $Seen, $Order) {
    # The services this one depends on, directly or not, each after its own dependencies.
    foreach ($dependency in $Service.ServicesDependedOn) {
        if ($Seen.ContainsKey($dependency.ServiceName)) { continue }
        $Seen[$dependency.ServiceName] = $true
        Get-DependencyOrder $dependency $Seen $Order
        $Order.Add($dependency)
    }
}

function Start-ServiceWithDependencies($Service, [string]$StartMode, [long]$TimeoutSeconds) {
    # StartService starts the services this one depends on first, as Start-Service and the SCM
    # do; `started` names those that were not running before, dependencies first.
    if ($StartMode -eq 'Disabled') {
        throw (New-AgentError 'error' ("service '{0}' is disabled and cannot be started" -f $Service.ServiceName))
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $dependencies = New-Object System.Collections.Generic.List[object]
    Get-DependencyOrder $Service @{} $dependencies
    $notRunning = New-Object System.Collections.Generic.List[object]
    foreach ($dependency in $dependencies) {
        $dependency.Refresh()
        if ([string]$dependency.Status -ne 'Running') { $notRunning.Add($dependency) }
    }
    $started = New-Object System.Collections.Generic.List[object]
    $Service.Refresh()
    if ([string]$Service.Status -eq 'Running') { return [ordered]@{ started = $started; state = 'Running' } }
    Start-ServiceAndWait $Service $deadline
    foreach ($dependency in $notRunning) {
        $dependency.Refresh()
        if ([string]$dependency.Status -eq 'Running') { $started.Add($dependency.ServiceName) }
    }
    $started.Add($Service.ServiceName)
    $Service.Refresh()
    return [ordered]@{ started = $started; state = [string]$Service.Status }
}

# ---------------------------------------------------------------------------
# Failover cluster through CIM root\MSCluster (reference sqlserver-tls.md sections 11 and 12).

$ClusterNamespace = 'root\MSCluster'
# State numbers of MSCluster_Node and MSCluster_Resource, reported by name like service states.
$ClusterNodeStates = @{ '-1' = 'Unknown'; '0' = 'Up'; '1' = 'Down'; '2' = 'Paused'; '3' = 'Joining' }
$ClusterResourceStates = @{
    '-1' = 'Unknown'; '0' = 'Inherited'; '1' = 'Initializing'; '2' = 'Online'; '3' = 'Offline'; '4' = 'Failed'
    '128' = 'Pending'; '129' = 'OnlinePending'; '130' = 'OfflinePending'
}
$ClusterOnline = 2
$ClusterOffline = 3
$ClusterFailed = 4

function ConvertTo-StateName($Table, $Value) {
    if ($null -eq $Value) { return $null }
    $name = $Table[[string]$Value]
    if ($null -eq $name) { return [string]$Value }
    return $name
}

function Test-ClusterNode {
    # The namespace exists only where the Failover Clustering feature is installed; it
    # answers "invalid namespace" on a server that is not (or no longer) a member.
    $namespace = Get-CimInstance -Namespace root -ClassName __NAMESPACE -Filter "Name='MSCluster'" -ErrorAction SilentlyContinue
    if ($null -eq $namespace) { return $false }
    try {
        $null = Get-CimInstance -Namespace $ClusterNamespace -ClassName MSCluster_Cluster
        return $true
    } catch {
        if ((Get-ErrorKind $_.Exception) -eq 'not_found') { return $false }
        throw
    }
}

function ConvertFrom-CimProperties($Instance) {
    $properties = [ordered]@{}
    if ($null -eq $Instance) { return $properties }
    foreach ($property in $Instance.CimInstanceProperties) { $properties.Add($property.Name, $property.Value) }
    return $properties
}

function Get-ClusterResources {
    return @(Get-CimInstance -Namespace $ClusterNamespace -ClassName MSCluster_Resource)
}

function Find-ClusterResource([string]$Name) {
    foreach ($resource in (Get-ClusterResources)) {
        if ($resource.Name -eq $Name) { return $resource }
    }
    throw (New-AgentError 'not_found' ("cluster resource '{0}' not found" -f $Name))
}

function Wait-ClusterResourceState($Resource, [long]$State, [DateTime]$Deadline) {
    while ($true) {
        $current = Get-CimInstance -InputObject $Resource
        if ([long]$current.State -eq $State) { return $current }
        if ([long]$current.State -eq $ClusterFailed) {
            throw (New-AgentError 'error' ("cluster resource '{0}' failed" -f $Resource.Name))
        }
        if ([DateTime]::UtcNow -ge $Deadline) {
            throw (New-AgentError 'timeout' ("cluster resource '{0}' did not reach state {1} in time (state {2})" -f $Resource.Name, (ConvertTo-StateName $ClusterResourceStates $State), (ConvertTo-StateName $ClusterResourceStates $current.State)))
        }
        Start-Sleep -Milliseconds 500
    }
}

function Assert-CimMethodResult($Result, [string]$Method, [string]$Target) {
    # MSCluster_Resource BringOnline/TakeOffline are declared void in ClusWmi.mof (MicrosoftDocs/
    # win32 desktop-src/MsCS, "BringOnline method of the MSCluster_Resource class"), yet a
    # failure can come back as a non-zero ReturnValue instead of a CIM error: without this check
    # a refused request would wait out the whole timeout and read as a timeout.
    if ($null -eq $Result) { return }
    $code = $Result.ReturnValue
    if ($null -eq $code -or [long]$code -eq 0) { return }
    # A uint32 HRESULT (0x80070005) and its signed reading name the same error.
    $signed = [long]$code
    if ($signed -gt 2147483647) { $signed = $signed - 4294967296 }
    $kind = 'error'
    if ($signed -ge -2147483648 -and $NativeErrorKinds.ContainsKey([int]$signed)) { $kind = $NativeErrorKinds[[int]$signed] }
    throw (New-AgentError $kind ("{0} of cluster resource '{1}' failed with return value {2}" -f $Method, $Target, $code))
}

function Get-RemainingSeconds([DateTime]$Deadline) {
    $seconds = [Math]::Ceiling(($Deadline - [DateTime]::UtcNow).TotalSeconds)
    if ($seconds -lt 1) { $seconds = 1 }
    return [uint32]$seconds
}

function Restart-ClusterResource($Resource, [long]$TimeoutSeconds) {
    # TakeOffline takes the resources that depend on this one offline first; those of its group
    # that were online before and are offline after are brought back once it is online again.
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $onlineBefore = New-Object System.Collections.Generic.List[object]
    foreach ($other in (Get-ClusterResources)) {
        if ($other.Name -ne $Resource.Name -and $other.OwnerGroup -eq $Resource.OwnerGroup -and [long]$other.State -eq $ClusterOnline) {
            $onlineBefore.Add($other)
        }
    }
    $offline = New-Object System.Collections.Generic.List[object]
    $online = New-Object System.Collections.Generic.List[object]
    Assert-CimMethodResult (Invoke-CimMethod -InputObject $Resource -MethodName TakeOffline -Arguments @{ TimeOut = (Get-RemainingSeconds $deadline) }) 'TakeOffline' $Resource.Name
    $null = Wait-ClusterResourceState $Resource $ClusterOffline $deadline
    $dependents = New-Object System.Collections.Generic.List[object]
    foreach ($other in $onlineBefore) {
        if ([long](Get-CimInstance -InputObject $other).State -ne $ClusterOnline) {
            $dependents.Add($other)
            $offline.Add([string]$other.Name)
        }
    }
    $offline.Add([string]$Resource.Name)
    Assert-CimMethodResult (Invoke-CimMethod -InputObject $Resource -MethodName BringOnline -Arguments @{ TimeOut = (Get-RemainingSeconds $deadline) }) 'BringOnline' $Resource.Name
    $final = Wait-ClusterResourceState $Resource $ClusterOnline $deadline
    $online.Add([string]$Resource.Name)
    foreach ($dependent in $dependents) {
        Assert-CimMethodResult (Invoke-CimMethod -InputObject $dependent -MethodName BringOnline -Arguments @{ TimeOut = (Get-RemainingSeconds $deadline) }) 'BringOnline' $dependent.Name
        $null = Wait-ClusterResourceState $dependent $ClusterOnline $deadline
        $online.Add([string]$dependent.Name)
    }
    return [ordered]@{ offline = $offline; online = $online; state = (ConvertTo-StateName $ClusterResourceStates $final.State) }
}

# ---------------------------------------------------------------------------
# The ops: one function each, named Invoke-Op<Name>, taking the request op as $op and
# reading only its declared fields as $op.<field> (Test-OpField for presence).

function Invoke-OpRegRead($op) {
    $regPath = ConvertTo-RegPath $op.path 'path'
    $depth = Get-IntField $op.depth 0 0 $MaxRegDepth 'depth'
    $key = Open-RegKey $regPath $false
    if ($null -eq $key) {
        # How far the path exists: a later write creates the keys below that depth, and only those,
        # so the plan can journal them before the write runs (rollback removes exactly them).
        return [ordered]@{ exists = $false; existing_depth = (Get-ExistingRegDepth $regPath); values = [ordered]@{}; subkeys = [ordered]@{} }
    }
    try { $node = Read-RegNode $key $depth $op.values } finally { $key.Dispose() }
    $result = [ordered]@{ exists = $true; values = $node['values']; subkeys = $node['subkeys'] }
    if ($node.Contains('errors')) { $result.Add('errors', $node['errors']) }
    return $result
}

function Invoke-OpRegWrite($op) {
    $regPath = ConvertTo-RegPath $op.path 'path'
    $target = ConvertTo-RegData $op.type $op.value
    $where = '{0}\{1}' -f $op.path, $op.name
    $before = Read-RegValueAt $regPath $op.name
    Assert-RegExpect (Test-OpField $op 'expect') $op.expect $before $where
    $created = New-Object System.Collections.Generic.List[object]
    $key = Open-OrCreateRegKey $regPath $created
    try {
        $key.SetValue($op.name, $target.Data, [Microsoft.Win32.RegistryValueKind]$target.Kind)
        $after = Get-RegValue $key $op.name
    } finally {
        $key.Dispose()
    }
    return [ordered]@{ before = $before; after = $after; created_keys = $created }
}

function Invoke-OpRegCreate($op) {
    # Creates the key and its missing parents, without values; an existing key is left as it
    # is (never recreated). expect null: the key must not exist yet.
    $regPath = ConvertTo-RegPath $op.path 'path'
    if ($regPath.Segments.Count -lt 2) {
        throw (New-AgentError 'invalid_request' ("field 'path': expected a key below a top-level key, got '{0}'" -f $op.path))
    }
    $exists = (Get-ExistingRegDepth $regPath) -eq $regPath.Segments.Count
    if (Test-OpField $op 'expect') {
        if ($null -ne $op.expect) { throw (New-AgentError 'invalid_request' "field 'expect': expected null (the key must not exist yet) or no field") }
        if ($exists) { throw (New-AgentError 'conflict' ('{0}: expected the key to be absent, found it' -f $op.path)) }
    }
    $created = New-Object System.Collections.Generic.List[object]
    if (-not $exists) {
        $key = Open-OrCreateRegKey $regPath $created
        $key.Dispose()
    }
    return [ordered]@{ created_keys = $created }
}

function Invoke-OpRegRemove($op) {
    $regPath = ConvertTo-RegPath $op.path 'path'
    $hasExpect = Test-OpField $op 'expect'
    if ($null -ne $op.name) {
        return (Remove-RegValueAt $regPath $op.name $hasExpect $op.expect ('{0}\{1}' -f $op.path, $op.name))
    }
    return (Remove-RegKeyAt $regPath ($op.recurse -eq $true) $hasExpect $op.expect $op.path)
}

function Invoke-OpCertList($op) {
    Initialize-NativeHelpers
    $wanted = $null
    if ($null -ne $op.thumbprints) {
        $wanted = @{}
        foreach ($thumbprint in $op.thumbprints) { $wanted[$thumbprint.ToUpperInvariant()] = $true }
    }
    $entries = New-Object System.Collections.Generic.List[object]
    $store = Open-CertStore $op.store $false
    try {
        foreach ($cert in $store.Certificates) {
            if ($null -ne $wanted -and -not $wanted.ContainsKey($cert.Thumbprint.ToUpperInvariant())) { continue }
            $entries.Add((Get-CertEntry $cert ($op.key_acl -eq $true)))
        }
    } finally {
        $store.Close()
    }
    return ,$entries
}

function Invoke-OpCertPropGet($op) {
    Initialize-NativeHelpers
    $thumbprint = Assert-Thumbprint $op.thumbprint
    $propId = [int](Get-IntField $op.prop_id 0 1 65535 'prop_id')
    $store = Open-CertStore $op.store $false
    try {
        $cert = Find-StoreCert $store $thumbprint
        if ($propId -eq 2) {
            # CERT_KEY_PROV_INFO_PROP_ID: a structure of pointers, so its fields, not its bytes.
            $info = ConvertFrom-KeyProvInfo ([MssqlTls.CertProperties]::GetKeyProvInfo($cert.Handle))
            return [ordered]@{ present = ($null -ne $info); data = $info }
        }
        $data = [MssqlTls.CertProperties]::Get($cert.Handle, $propId)
    } finally {
        $store.Close()
    }
    return [ordered]@{ present = ($null -ne $data); data = ConvertTo-Base64OrNull $data }
}

function Invoke-OpCertKeyAclSet($op) {
    # Replaces the DACL of the certificate's private key through its CSP or KSP; expect
    # {"data": <SDDL>} is compared with the DACL as this agent renders it (Get-KeyAcl).
    Initialize-NativeHelpers
    $thumbprint = Assert-Thumbprint $op.thumbprint
    $descriptor = ConvertFrom-DaclSddl $op.sddl
    $hasExpect = Test-OpField $op 'expect'
    if ($hasExpect -and ($null -eq $op.expect -or $op.expect.data -isnot [string])) {
        throw (New-AgentError 'invalid_request' "field 'expect': expected {'data': <current DACL as SDDL>} or no field")
    }
    $store = Open-CertStore $op.store $false
    try {
        $cert = Find-StoreCert $store $thumbprint
        $info = [MssqlTls.CertProperties]::GetKeyProvInfo($cert.Handle)
        if ($null -eq $info -or -not $cert.HasPrivateKey) {
            throw (New-AgentError 'not_found' ('certificate {0} has no private key' -f $thumbprint))
        }
        $before = Get-KeyAcl $info
        if ($hasExpect -and $op.expect.data -cne $before['sddl']) {
            throw (New-AgentError 'conflict' ('private key of {0}: expected DACL {1}, found {2}' -f $thumbprint, $op.expect.data, $before['sddl']))
        }
        [MssqlTls.KeyAcl]::Set($info, $descriptor)
        $after = Get-KeyAcl $info
    } finally {
        $store.Close()
    }
    return [ordered]@{ kind = $before['kind']; before = $before['sddl']; after = $after['sddl'] }
}

function Invoke-OpCertPropSet($op) {
    Initialize-NativeHelpers
    $thumbprint = Assert-Thumbprint $op.thumbprint
    $propId = Assert-WritablePropId $op.prop_id
    $data = ConvertFrom-Base64Field $op.data 'data'
    $where = 'property {0} of {1}' -f $propId, $thumbprint
    $store = Open-CertStore $op.store $true
    try {
        $cert = Find-StoreCert $store $thumbprint
        $before = [MssqlTls.CertProperties]::Get($cert.Handle, $propId)
        Assert-CertExpect (Test-OpField $op 'expect') $op.expect $before $where
        [MssqlTls.CertProperties]::Set($cert.Handle, $propId, $data)
        $after = [MssqlTls.CertProperties]::Get($cert.Handle, $propId)
    } finally {
        $store.Close()
    }
    return [ordered]@{ before = ConvertTo-Base64OrNull $before; after = ConvertTo-Base64OrNull $after }
}

function Invoke-OpCertPropClear($op) {
    Initialize-NativeHelpers
    $thumbprint = Assert-Thumbprint $op.thumbprint
    $propId = Assert-WritablePropId $op.prop_id
    $where = 'property {0} of {1}' -f $propId, $thumbprint
    $store = Open-CertStore $op.store $true
    try {
        $cert = Find-StoreCert $store $thumbprint
        $before = [MssqlTls.CertProperties]::Get($cert.Handle, $propId)
        Assert-CertExpect (Test-OpField $op 'expect') $op.expect $before $where
        if ($null -ne $before) { [MssqlTls.CertProperties]::Clear($cert.Handle, $propId) }
    } finally {
        $store.Close()
    }
    return [ordered]@{ before = ConvertTo-Base64OrNull $before; removed = ($null -ne $before) }
}

function Get-OrdinalSorted($Names) {
    # Names sorted ordinally without case (StringComparer.OrdinalIgnoreCase), as the lab sorts
    # them; Sort-Object compares by the culture's rules, which order '_', '-' and '$' apart.
    $list = New-Object System.Collections.Generic.List[string]
    foreach ($name in $Names) { $list.Add([string]$name) }
    $list.Sort([StringComparer]::OrdinalIgnoreCase)
    return ,$list
}

function ConvertTo-ServiceEntry($service, $modes) {
    return [ordered]@{
        name         = $service.ServiceName
        exists       = $true
        display_name = $service.DisplayName
        state        = [string]$service.Status
        start_mode   = $modes[$service.ServiceName]
        dependents   = Get-DependentNames $service
    }
}

function Invoke-OpSvcQuery($op) {
    $services = Get-ServiceIndex
    $modes = Get-ServiceStartModes
    $entries = New-Object System.Collections.Generic.List[object]
    $listed = @{}
    foreach ($name in $op.names) {
        $service = $services[$name]
        if ($null -eq $service) {
            $entries.Add([ordered]@{ name = $name; exists = $false; display_name = $null; state = $null; start_mode = $null; dependents = @() })
            continue
        }
        $listed[$service.ServiceName] = $true
        $entries.Add((ConvertTo-ServiceEntry $service $modes))
    }
    # Prefixes are compared as plain strings: '$' and wildcard characters are legal in service names.
    foreach ($prefix in @($op.prefixes)) {
        if ($null -eq $prefix) { continue }
        foreach ($serviceName in (Get-OrdinalSorted $services.Keys)) {
            if ($listed.ContainsKey($serviceName)) { continue }
            if (-not $serviceName.StartsWith([string]$prefix, [StringComparison]::OrdinalIgnoreCase)) { continue }
            $listed[$serviceName] = $true
            $entries.Add((ConvertTo-ServiceEntry $services[$serviceName] $modes))
        }
    }
    return ,$entries
}

function Invoke-OpSvcRestart($op) {
    $timeout = Get-IntField $op.timeout_s 120 1 86400 'timeout_s'
    $service = (Get-ServiceIndex)[$op.name]
    if ($null -eq $service) { throw (New-AgentError 'not_found' ("service '{0}' not found" -f $op.name)) }
    $startMode = (Get-ServiceStartModes)[$service.ServiceName]
    return (Restart-ServiceWithDependents $service $startMode ($op.with_dependents -ne $false) $timeout)
}

function Invoke-OpSvcStart($op) {
    $timeout = Get-IntField $op.timeout_s 120 1 86400 'timeout_s'
    $service = (Get-ServiceIndex)[$op.name]
    if ($null -eq $service) { throw (New-AgentError 'not_found' ("service '{0}' not found" -f $op.name)) }
    $startMode = (Get-ServiceStartModes)[$service.ServiceName]
    return (Start-ServiceWithDependencies $service $startMode $timeout)
}

function Invoke-OpClusterQuery($op) {
    $result = [ordered]@{ is_node = $false; cluster_name = $null; nodes = @(); resources = @() }
    if (-not (Test-ClusterNode)) { return $result }
    $cluster = @(Get-CimInstance -Namespace $ClusterNamespace -ClassName MSCluster_Cluster)
    $nodes = New-Object System.Collections.Generic.List[object]
    foreach ($node in @(Get-CimInstance -Namespace $ClusterNamespace -ClassName MSCluster_Node)) {
        $nodes.Add([ordered]@{ name = [string]$node.Name; state = ConvertTo-StateName $ClusterNodeStates $node.State })
    }
    $resources = New-Object System.Collections.Generic.List[object]
    foreach ($resource in (Get-ClusterResources)) {
        $resources.Add([ordered]@{
            name       = [string]$resource.Name
            type       = ConvertTo-StringOrNull $resource.Type
            group      = ConvertTo-StringOrNull $resource.OwnerGroup
            owner_node = ConvertTo-StringOrNull $resource.OwnerNode
            state      = ConvertTo-StateName $ClusterResourceStates $resource.State
            private    = ConvertFrom-CimProperties $resource.PrivateProperties
        })
    }
    $result['is_node'] = $true
    if ($cluster.Count -gt 0) { $result['cluster_name'] = [string]$cluster[0].Name }
    $result['nodes'] = $nodes
    $result['resources'] = $resources
    return $result
}

function Invoke-OpClusterRestart($op) {
    $timeout = Get-IntField $op.timeout_s 120 1 86400 'timeout_s'
    if (-not (Test-ClusterNode)) { throw (New-AgentError 'not_found' 'this computer is not a cluster node') }
    $resource = Find-ClusterResource $op.resource
    return (Restart-ClusterResource $resource $timeout)
}

function Invoke-OpFileVersion($op) {
    # One entry per target; a target that cannot be read (a denied registry key of path_from,
    # a file that cannot be opened) carries `error` and the other entries are still read.
    $entries = New-Object System.Collections.Generic.List[object]
    foreach ($target in (Get-FileTargets $op.paths $op.path_from)) {
        $entry = [ordered]@{ path = $target.Path; exists = $false; product_version = $null; file_version = $null; source_key = $target.SourceKey }
        if ($null -ne $target.Error) {
            $entry.Add('error', $target.Error)
            $entries.Add($entry)
            continue
        }
        try {
            if ([System.IO.File]::Exists($target.Path)) {
                $entry['exists'] = $true
                $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($target.Path)
                $entry['product_version'] = ConvertTo-StringOrNull $info.ProductVersion
                $entry['file_version'] = ConvertTo-StringOrNull $info.FileVersion
            }
        } catch {
            $entry.Add('error', (ConvertTo-EntryError $_.Exception))
        }
        $entries.Add($entry)
    }
    return ,$entries
}

function Invoke-OpFileTail($op) {
    # Each file is read once, whatever the number of patterns: `lines` keeps the last max_lines
    # lines (those matching `pattern` when given; none when only `patterns` is given) and
    # `matches` the last max_lines lines matching each of `patterns`, in one compiled pass.
    $maxLines = [int](Get-IntField $op.max_lines 200 0 1000000 'max_lines')
    $filters = New-Object System.Collections.Generic.List[System.Text.RegularExpressions.Regex]
    $withLines = ($null -ne $op.pattern -or $null -eq $op.patterns)
    if ($withLines) { $filters.Add((New-CheckedRegex $op.pattern 'pattern')) }
    $patternCount = 0
    if ($null -ne $op.patterns) {
        foreach ($text in $op.patterns) {
            $filters.Add((New-CheckedRegex $text 'patterns'))
            $patternCount++
        }
    }
    $filterArray = $filters.ToArray()
    $suffixes = @('')
    if ($null -ne $op.suffixes) { $suffixes = $op.suffixes }
    $entries = New-Object System.Collections.Generic.List[object]
    foreach ($target in (Get-FileTargets $op.paths $op.path_from)) {
        if ($null -ne $target.Error) {
            $failed = [ordered]@{ path = $null; exists = $false; encoding = $null; lines = @(); source_key = $target.SourceKey }
            if ($null -ne $op.patterns) { $failed.Add('matches', @()) }
            $failed.Add('error', $target.Error)
            $entries.Add($failed)
            continue
        }
        foreach ($suffix in $suffixes) {
            $path = $target.Path + $suffix
            $entry = [ordered]@{ path = $path; exists = $false; encoding = $null; lines = @(); source_key = $target.SourceKey }
            $perPattern = New-Object System.Collections.Generic.List[object]
            for ($i = 0; $i -lt $patternCount; $i++) { $perPattern.Add(@()) }
            if ($null -ne $op.patterns) { $entry.Add('matches', $perPattern) }
            try {
                $tail = Read-TextTail $path $maxLines $filterArray
                if ($null -ne $tail) {
                    $entry['exists'] = $true
                    $entry['encoding'] = $tail.Encoding
                    $first = 0
                    if ($withLines) {
                        $entry['lines'] = $tail.Kept[0]
                        $first = 1
                    }
                    for ($i = 0; $i -lt $patternCount; $i++) { $perPattern[$i] = $tail.Kept[$first + $i] }
                }
            } catch {
                $entry['exists'] = [System.IO.File]::Exists($path)
                $entry.Add('error', (ConvertTo-EntryError $_.Exception))
            }
            $entries.Add($entry)
        }
    }
    return ,$entries
}

function Invoke-OpTlsSuites($op) {
    # The TLS module (Get-TlsCipherSuite) exists from Server 2016 on (reference windows-schannel.md section 4).
    if ($null -eq (Get-Command -Name Get-TlsCipherSuite -ErrorAction SilentlyContinue)) {
        throw (New-AgentError 'unsupported' 'Get-TlsCipherSuite is not available on this host (before Windows Server 2016)')
    }
    $entries = New-Object System.Collections.Generic.List[object]
    foreach ($suite in @(Get-TlsCipherSuite)) {
        $protocols = New-Object System.Collections.Generic.List[object]
        foreach ($protocol in @($suite.Protocols)) { $protocols.Add([long]$protocol) }
        $entries.Add([ordered]@{
            name        = [string]$suite.Name
            protocols   = $protocols
            cipher      = ConvertTo-StringOrNull $suite.Cipher
            exchange    = ConvertTo-StringOrNull $suite.Exchange
            hash        = ConvertTo-StringOrNull $suite.Hash
            certificate = ConvertTo-StringOrNull $suite.Certificate
        })
    }
    return ,$entries
}

# Suite names as the TLS cmdlets print them; anything else is refused before a cmdlet sees it.
$SuiteNamePattern = '^[A-Za-z0-9_]{1,128}\z'

function Assert-TlsCmdlet([string]$Name) {
    # The TLS module exists from Server 2016 on (reference windows-schannel.md section 4); the
    # cmdlets are preferred over BCrypt{Add,Remove}ContextFunction, which they wrap.
    if ($null -eq (Get-Command -Name $Name -ErrorAction SilentlyContinue)) {
        throw (New-AgentError 'unsupported' ('{0} is not available on this host (before Windows Server 2016)' -f $Name))
    }
}

function Assert-SuiteName([string]$Name) {
    if ($Name -cnotmatch $SuiteNamePattern) {
        throw (New-AgentError 'invalid_request' ("field 'name': expected a cipher suite name, got '{0}'" -f $Name))
    }
}

function Get-LocalSuiteList {
    # The Local (CNG) list the cmdlets edit, in priority order (MssqlTls.CngConfig). It is not
    # Get-TlsCipherSuite's answer, which follows the Policy list when one is set.
    Initialize-NativeHelpers
    $list = New-Object System.Collections.Generic.List[string]
    foreach ($name in [MssqlTls.CngConfig]::LocalSchannelSuites()) { $list.Add($name) }
    return ,$list
}

function Invoke-OpTlsSuiteDisable($op) {
    # Disable-TlsCipherSuite: removes the suite from the Local list, with immediate effect
    # (windows-powershell-docs Disable-TlsCipherSuite.md; reference windows-schannel.md section 4).
    Assert-TlsCmdlet 'Disable-TlsCipherSuite'
    Assert-SuiteName $op.name
    $position = (Get-LocalSuiteList).IndexOf($op.name)
    if (Test-OpField $op 'expect') {
        if (-not (Test-JsonObject $op.expect) -or $op.expect.present -isnot [bool] -or -not $op.expect.present) {
            throw (New-AgentError 'invalid_request' "field 'expect': expected {'present': true} or no field")
        }
        if ($position -lt 0) { throw (New-AgentError 'conflict' ('{0}: expected it in the Local suite list, found it absent' -f $op.name)) }
    }
    if ($position -lt 0) { return [ordered]@{ removed = $false; position_before = $null } }
    Disable-TlsCipherSuite -Name $op.name
    return [ordered]@{ removed = $true; position_before = $position }
}

function Invoke-OpTlsSuiteEnable($op) {
    # Enable-TlsCipherSuite -Position: inserts the suite ahead of the one at that position
    # (0 = top; default, or beyond the end: the bottom, CRYPT_PRIORITY_BOTTOM); a suite already
    # in the list moves there (BCryptAddContextFunction, MicrosoftDocs/sdk-api
    # bcrypt/nf-bcrypt-bcryptaddcontextfunction.md). Immediate, no restart.
    Assert-TlsCmdlet 'Enable-TlsCipherSuite'
    Assert-SuiteName $op.name
    $position = Get-IntField $op.position (-1) 0 4294967295 'position'
    if (Test-OpField $op 'expect') {
        if ($null -ne $op.expect) { throw (New-AgentError 'invalid_request' "field 'expect': expected null (the suite must not be in the list yet) or no field") }
        if ((Get-LocalSuiteList).Contains($op.name)) { throw (New-AgentError 'conflict' ('{0}: expected it absent from the Local suite list, found it' -f $op.name)) }
    }
    if ($position -lt 0) {
        Enable-TlsCipherSuite -Name $op.name
    } else {
        Enable-TlsCipherSuite -Name $op.name -Position ([uint32]$position)
    }
    $final = (Get-LocalSuiteList).IndexOf($op.name)
    if ($final -lt 0) { throw (New-AgentError 'error' ('{0} is not in the Local suite list after Enable-TlsCipherSuite' -f $op.name)) }
    return [ordered]@{ position = $final }
}

function Invoke-OpOsInfo($op) {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $now = [DateTimeOffset]::Now
    return [ordered]@{
        computer_name      = [Environment]::MachineName
        dns_domain         = ConvertTo-StringOrNull ([System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties().DomainName)
        ps_version         = $PSVersionTable.PSVersion.ToString()
        last_boot_utc      = ConvertTo-IsoUtc $os.LastBootUpTime
        is_64bit           = [Environment]::Is64BitOperatingSystem
        local_time         = $now.ToString("yyyy-MM-dd'T'HH:mm:sszzz", [System.Globalization.CultureInfo]::InvariantCulture)
        utc_offset_minutes = [int]$now.Offset.TotalMinutes
        time_zone          = [TimeZoneInfo]::Local.Id
    }
}

# A reboot reason: printable ASCII, no quote or backslash, so that shutdown.exe receives it as
# exactly one argument whatever the quoting rules of the command line.
$RebootReasonPattern = '^[\x20-\x21\x23-\x26\x28-\x5B\x5D-\x7E]{1,200}\z'

function Invoke-OpOsReboot($op) {
    # Scheduled like ansible.windows' reboot does it (ansible-collections/ansible.windows
    # plugins/plugin_utils/_reboot.py: shutdown.exe /r /t <delay> /c <message>); the reply goes
    # out before the restart begins (delay_s 0 may race it; ansible.windows waits 2 s).
    $delay = Get-IntField $op.delay_s 10 0 600 'delay_s'
    if ($op.reason -cnotmatch $RebootReasonPattern) {
        throw (New-AgentError 'invalid_request' "field 'reason': expected 1-200 printable ASCII characters without quotes or backslashes")
    }
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $previous = ConvertTo-IsoUtc $os.LastBootUpTime
    $scheduled = ConvertTo-IsoUtc ([DateTime]::UtcNow.AddSeconds($delay))
    # shutdown.exe reports on stderr; with 'Stop' a native stderr line would throw here.
    $ErrorActionPreference = 'Continue'
    $output = shutdown.exe /r /t $delay /c $op.reason 2>&1
    $exitCode = $LASTEXITCODE
    if ($exitCode -ne 0) {
        throw (New-AgentError 'error' ('shutdown.exe exited with {0}: {1}' -f $exitCode, ((@($output) | ForEach-Object { [string]$_ }) -join ' ')))
    }
    return [ordered]@{ previous_boot_utc = $previous; scheduled_utc = $scheduled; delay_s = $delay }
}

function Invoke-OpEventCount($op) {
    $hours = Get-IntField $op.since_hours 168 0 876000 'since_hours'
    $since = [DateTime]::Now.AddHours(-$hours)
    # Plain hashtables: the keys are event ids as strings ('36874').
    $counts = @{}
    $latest = @{}
    foreach ($id in $op.ids) { $counts[[string]$id] = 0; $latest[[string]$id] = $null }
    $ids = @($op.ids)
    # A FilterHashtable with many ids becomes an XPath query that the event log refuses; ask in chunks.
    for ($start = 0; $start -lt $ids.Count; $start += 20) {
        $chunk = [int[]]($ids[$start..([Math]::Min($start + 20, $ids.Count) - 1)])
        $filter = @{ LogName = $op.log; Id = $chunk; StartTime = $since }
        if ($null -ne $op.provider) { $filter['ProviderName'] = $op.provider }
        $events = @()
        try {
            $events = @(Get-WinEvent -FilterHashtable $filter -ErrorAction Stop)
        } catch {
            # No matching event is an error record of Get-WinEvent, and a zero count here.
            if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {
                if ($_.FullyQualifiedErrorId -like 'NoMatchingLogsFound*') {
                    throw (New-AgentError 'not_found' ("event log '{0}' not found" -f $op.log))
                }
                throw
            }
        }
        foreach ($record in $events) {
            $key = [string]$record.Id
            if (-not $counts.ContainsKey($key)) { continue }
            $counts[$key] = $counts[$key] + 1
            if ($null -eq $latest[$key] -or $record.TimeCreated -gt $latest[$key]) { $latest[$key] = $record.TimeCreated }
        }
    }
    $latestUtc = @{}
    foreach ($key in $counts.Keys) { $latestUtc[$key] = ConvertTo-IsoUtc $latest[$key] }
    return [ordered]@{ counts = $counts; latest_utc = $latestUtc }
}

function Invoke-OpJournalAppend($op) {
    $path = Add-JournalLine $op.id $op.line
    return [ordered]@{ id = $op.id; path = $path }
}

function Invoke-OpJournalRead($op) {
    $last = Get-IntField $op.last (-1) 0 1000000 'last'
    $files = New-Object System.Collections.Generic.List[object]
    if ($null -ne $op.id) {
        $path = Get-JournalPath $op.id $false
        if (-not [System.IO.File]::Exists($path)) { throw (New-AgentError 'not_found' ("journal record '{0}' does not exist" -f $op.id)) }
        $files.Add((New-Object System.IO.FileInfo($path)))
    } else {
        $directory = Get-JournalDirectory $false
        if ([System.IO.Directory]::Exists($directory)) {
            # Oldest first, so the newest record is last: by creation time, then by name compared
            # ordinally without case (the lab sorts the same way; Sort-Object would compare names
            # by the culture's rules, which order '_', '-' and '.' differently).
            $info = New-Object System.IO.DirectoryInfo($directory)
            $found = $info.GetFiles('*.jsonl')
            $keys = New-Object string[] $found.Length
            for ($i = 0; $i -lt $found.Length; $i++) {
                $keys[$i] = '{0:D20}|{1}' -f $found[$i].CreationTimeUtc.Ticks, $found[$i].Name.ToUpperInvariant()
            }
            [Array]::Sort($keys, $found, [StringComparer]::Ordinal)
            foreach ($file in $found) {
                if ($file.Name.Substring(0, $file.Name.Length - 6) -cmatch $JournalIdPattern) { $files.Add($file) }
            }
        }
    }
    $first = 0
    if ($last -ge 0) { $first = [Math]::Max(0, $files.Count - $last) }
    $records = New-Object System.Collections.Generic.List[object]
    for ($i = $first; $i -lt $files.Count; $i++) {
        $name = $files[$i].Name
        $records.Add([ordered]@{
            id          = $name.Substring(0, $name.Length - 6)
            created_utc = ConvertTo-IsoUtc $files[$i].CreationTimeUtc
            lines       = Read-AllLines $files[$i].FullName
        })
    }
    return [ordered]@{ records = $records }
}

# ---------------------------------------------------------------------------
# Dispatch: a literal switch, so that no request content ever names a command.

function Invoke-AgentOp($op) {
    switch -CaseSensitive ($op.op) {
        'reg.read' { Invoke-OpRegRead $op }
        'reg.write' { Invoke-OpRegWrite $op }
        'reg.remove' { Invoke-OpRegRemove $op }
        'reg.create' { Invoke-OpRegCreate $op }
        'cert.list' { Invoke-OpCertList $op }
        'cert.key.acl.set' { Invoke-OpCertKeyAclSet $op }
        'cert.prop.get' { Invoke-OpCertPropGet $op }
        'cert.prop.set' { Invoke-OpCertPropSet $op }
        'cert.prop.clear' { Invoke-OpCertPropClear $op }
        'svc.query' { Invoke-OpSvcQuery $op }
        'svc.restart' { Invoke-OpSvcRestart $op }
        'svc.start' { Invoke-OpSvcStart $op }
        'cluster.query' { Invoke-OpClusterQuery $op }
        'cluster.restart' { Invoke-OpClusterRestart $op }
        'file.version' { Invoke-OpFileVersion $op }
        'file.tail' { Invoke-OpFileTail $op }
        'tls.suites' { Invoke-OpTlsSuites $op }
        'tls.suite.disable' { Invoke-OpTlsSuiteDisable $op }
        'tls.suite.enable' { Invoke-OpTlsSuiteEnable $op }
        'os.info' { Invoke-OpOsInfo $op }
        'os.reboot' { Invoke-OpOsReboot $op }
        'event.count' { Invoke-OpEventCount $op }
        'journal.append' { Invoke-OpJournalAppend $op }
        'journal.read' { Invoke-OpJournalRead $op }
        default { throw (New-AgentError 'invalid_request' ("field 'op': no handler for '{0}'" -f $op.op)) }
    }
}

# ---------------------------------------------------------------------------
# The batch (docs/agent-protocol.md): journal line first, ops in order, a failed or
# conflicting write stops the batch, progress lines after each applied write.

function New-OkResult($Data) {
    return [ordered]@{ ok = $true; data = $Data }
}

function New-ErrorResult([string]$Kind, [string]$Message, $Detail) {
    # `detail`: structured facts of the failure (a service's exit codes, the services a failed
    # restart left stopped), only when the op has them (docs/agent-protocol.md, Response).
    $errorObject = [ordered]@{ kind = $Kind; message = $Message }
    if ($null -ne $Detail) { $errorObject.Add('detail', $Detail) }
    return [ordered]@{ ok = $false; error = $errorObject }
}

function Get-ProgressLine([int]$Index, $Data) {
    # {"applied": i} after a write op that succeeded, with the keys it created when there are
    # any, so that a rollback removes exactly what the batch created (docs/agent-protocol.md).
    $created = $null
    if ($Data -is [System.Collections.IDictionary] -and $Data.Contains('created_keys')) { $created = $Data['created_keys'] }
    if ($null -eq $created -or @($created).Count -eq 0) { return ('{"applied":' + $Index + '}') }
    $line = [ordered]@{ applied = $Index; created_keys = $created }
    return (ConvertTo-Json -InputObject (ConvertTo-JsonReady $line) -Depth 4 -Compress)
}

function Read-Request([string]$Json) {
    try {
        $request = ConvertFrom-Json -InputObject $Json
    } catch {
        throw (New-AgentError 'invalid_request' ('the request is not valid JSON: {0}' -f (Get-ErrorMessage $_.Exception)))
    }
    if (-not (Test-JsonObject $request) -or $request.v -ne $ProtocolVersion -or -not (Test-JsonInt $request.v) -or $request.ops -isnot [array]) {
        throw (New-AgentError 'invalid_request' 'expected a request object with v=1 and a list of ops')
    }
    return $request
}

function Test-NeedsJournal($Ops) {
    foreach ($op in $Ops) {
        $spec = Get-OpSpec $op
        if ($null -ne $spec -and $spec['Writes'] -and $op.op -cne 'journal.append') { return $true }
    }
    return $false
}

function Invoke-Batch([string]$Json) {
    $request = Read-Request $Json
    $ops = @($request.ops)
    $journal = $request.journal
    if ($null -eq $journal -and (Test-NeedsJournal $ops)) {
        throw (New-AgentError 'invalid_request' "field 'journal': a batch with write ops must carry a journal record")
    }
    if ($null -ne $journal -and (-not (Test-JsonObject $journal) -or $journal.id -isnot [string] -or $journal.line -isnot [string])) {
        throw (New-AgentError 'invalid_request' "field 'journal': expected {'id': str, 'line': str}")
    }
    $results = New-Object System.Collections.Generic.List[object]
    # rid: the request's id echoed (null when it has none), so the client can tell which request
    # this response answers (docs/agent-protocol.md, "Request id").
    $rid = $null
    if ($request.rid -is [string]) { $rid = $request.rid }
    $response = [ordered]@{ v = $ProtocolVersion; rid = $rid; journal_id = $null; results = $results }
    if ($null -ne $journal) {
        $response['journal_id'] = $journal.id
        try {
            $null = Add-JournalLine $journal.id $journal.line $true
        } catch {
            $response['journal_error'] = Get-ErrorMessage $_.Exception
            foreach ($op in $ops) { $results.Add((New-ErrorResult 'skipped' 'journal record could not be written')) }
            return $response
        }
    }
    $stoppedAt = $null
    for ($index = 0; $index -lt $ops.Count; $index++) {
        $op = $ops[$index]
        if ($null -ne $stoppedAt) {
            $results.Add((New-ErrorResult 'skipped' ('not run: op {0} failed' -f $stoppedAt)))
            continue
        }
        $spec = Get-OpSpec $op
        $isWrite = ($null -ne $spec -and $spec['Writes'])
        $problem = Get-OpProblem $op
        if ($null -ne $problem) {
            $results.Add((New-ErrorResult 'invalid_request' $problem))
            if ($isWrite) { $stoppedAt = $index }
            continue
        }
        try {
            $data = Invoke-AgentOp $op
        } catch {
            $results.Add((New-ErrorResult (Get-ErrorKind $_.Exception) (Get-ErrorMessage $_.Exception) (Get-ErrorDetail $_.Exception)))
            if ($isWrite) { $stoppedAt = $index }
            continue
        }
        $results.Add((New-OkResult $data))
        if ($isWrite -and $null -ne $journal) {
            try {
                $null = Add-JournalLine $journal.id (Get-ProgressLine $index $data)
            } catch {
                # The write happened but the record cannot say so: apply nothing more.
                $response['journal_error'] = Get-ErrorMessage $_.Exception
                $stoppedAt = $index
            }
        }
    }
    if ($null -ne $journal) {
        $stoppedText = 'null'
        if ($null -ne $stoppedAt) { $stoppedText = [string]$stoppedAt }
        try {
            $null = Add-JournalLine $journal.id ('{"done":true,"stopped_at":' + $stoppedText + '}')
        } catch {
            $response['journal_error'] = Get-ErrorMessage $_.Exception
        }
    }
    return $response
}

function New-FatalResponse([string]$Kind, [string]$Message) {
    return [ordered]@{ v = $ProtocolVersion; fatal = [ordered]@{ kind = $Kind; message = $Message } }
}

# Exactly one JSON document on stdout, whatever happened.
try {
    $agentResponse = Invoke-Batch $RequestJson
} catch {
    $agentResponse = New-FatalResponse (Get-ErrorKind $_.Exception) (Get-ErrorMessage $_.Exception)
}
try {
    $agentJson = ConvertTo-AgentJson $agentResponse
} catch {
    $agentJson = ConvertTo-AgentJson (New-FatalResponse 'error' ('cannot serialise the response: ' + (Get-ErrorMessage $_.Exception)))
}
Write-Output $agentJson
