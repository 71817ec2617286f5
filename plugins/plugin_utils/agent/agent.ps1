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
    'cert.list' = @{
        Writes = $false
        Fields = @{
            'store' = @{ Type = 'str'; Required = $false }
            'thumbprints' = @{ Type = 'list[str]'; Required = $false }
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
        }
    }
    'tls.suites' = @{
        Writes = $false
        Fields = @{}
    }
    'os.info' = @{
        Writes = $false
        Fields = @{}
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
# Errors: an exception carries its protocol error kind in Data['mssql_tls_kind'].

function New-AgentError([string]$Kind, [string]$Message) {
    $exception = New-Object System.Exception($Message)
    $exception.Data['mssql_tls_kind'] = $Kind
    return $exception
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
        if ($HResultKinds.ContainsKey($current.HResult)) { return $HResultKinds[$current.HResult] }
        $current = $current.InnerException
    }
    return 'error'
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
    # ASCII only (docs/agent-protocol.md, Response): every non-ASCII UTF-16 unit becomes \uXXXX.
    $escape = [System.Text.RegularExpressions.MatchEvaluator] { param($match) '\u{0:x4}' -f [int][char]$match.Value }
    return [regex]::Replace($json, '[^\u0000-\u007F]', $escape)
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

function Get-RegParentPath($RegPath) {
    $segments = New-Object System.Collections.Generic.List[string]
    for ($i = 0; $i -lt $RegPath.Segments.Count - 1; $i++) { $segments.Add($RegPath.Segments[$i]) }
    return @{ Hive = $RegPath.Hive; Prefix = $RegPath.Prefix; Segments = $segments }
}

function Open-RegBase([string]$Hive) {
    # The 64-bit view, whatever the bitness of this PowerShell (Registry64 is ignored on 32-bit Windows).
    return [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]$Hive, [Microsoft.Win32.RegistryView]::Registry64)
}

function Open-RegKey($RegPath, [bool]$Writable) {
    # One segment at a time; $null when a key on the way is missing.
    $key = Open-RegBase $RegPath.Hive
    foreach ($segment in $RegPath.Segments) {
        $child = $key.OpenSubKey($segment, $Writable)
        $key.Dispose()
        if ($null -eq $child) { return $null }
        $key = $child
    }
    return $key
}

function Open-OrCreateRegKey($RegPath, $Created) {
    # Opens every existing key and creates only the missing ones, so no existing key
    # (and none of its sibling values) is ever recreated.
    $key = Open-RegBase $RegPath.Hive
    $walked = $RegPath.Prefix
    foreach ($segment in $RegPath.Segments) {
        $walked = $walked + '\' + $segment
        $child = $key.OpenSubKey($segment, $true)
        if ($null -eq $child) {
            $child = $key.CreateSubKey($segment)
            $Created.Add($walked)
        }
        $key.Dispose()
        $key = $child
    }
    return $key
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

function Get-RegValue($Key, [string]$Name) {
    # {type, data} or $null when absent. DWORD/QWORD come back signed as .NET returns them
    # (0xffffffff reads -1, reference windows-schannel.md section 1); EXPAND_SZ is not expanded.
    if ($null -eq $Key) { return $null }
    $raw = $Key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    if ($null -eq $raw) { return $null }
    $type = $RegKindNames[[string]$Key.GetValueKind($Name)]
    if ($null -eq $type) { $type = 'REG_UNKNOWN' }
    if ($type -eq 'REG_MULTI_SZ') {
        $strings = New-Object System.Collections.Generic.List[object]
        foreach ($item in $raw) { $strings.Add([string]$item) }
        return [ordered]@{ type = $type; data = $strings }
    }
    if ($raw -is [byte[]]) { return [ordered]@{ type = $type; data = [Convert]::ToBase64String($raw) } }
    if ($type -eq 'REG_DWORD') { return [ordered]@{ type = $type; data = [int]$raw } }
    if ($type -eq 'REG_QWORD') { return [ordered]@{ type = $type; data = [long]$raw } }
    return [ordered]@{ type = $type; data = [string]$raw }
}

function Read-RegValueAt($RegPath, [string]$Name) {
    $key = Open-RegKey $RegPath $false
    if ($null -eq $key) { return $null }
    try { return (Get-RegValue $key $Name) } finally { $key.Dispose() }
}

function Read-RegNode($Key, [int]$Depth, $ValueNames) {
    # `values` filters value names at every level read; at the depth limit subkeys map to $null.
    # Names are added, not indexed (see ConvertTo-JsonReady): subkey names like '0' are common.
    $values = [ordered]@{}
    foreach ($name in $Key.GetValueNames()) {
        if ($null -ne $ValueNames -and $ValueNames -notcontains $name) { continue }
        $values.Add($name, (Get-RegValue $Key $name))
    }
    $subkeys = [ordered]@{}
    foreach ($subName in $Key.GetSubKeyNames()) {
        $node = $null
        $child = $null
        if ($Depth -gt 0) { $child = $Key.OpenSubKey($subName, $false) }
        if ($null -ne $child) {
            try { $node = Read-RegNode $child ($Depth - 1) $ValueNames } finally { $child.Dispose() }
        }
        $subkeys.Add($subName, $node)
    }
    return [ordered]@{ values = $values; subkeys = $subkeys }
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
    # Returns entries @{ Key; Path }; the caller disposes the keys.
    $level = New-Object System.Collections.Generic.List[object]
    $level.Add(@{ Key = (Open-RegBase $RegPath.Hive); Path = $RegPath.Prefix })
    foreach ($segment in $RegPath.Segments) {
        $next = New-Object System.Collections.Generic.List[object]
        foreach ($entry in $level) {
            $names = @($segment)
            if ($segment -eq '*') { $names = $entry.Key.GetSubKeyNames() }
            foreach ($name in $names) {
                $child = $entry.Key.OpenSubKey($name, $false)
                if ($null -ne $child) { $next.Add(@{ Key = $child; Path = $entry.Path + '\' + $name }) }
            }
            $entry.Key.Dispose()
        }
        $level = $next
    }
    return ,$level
}

# ---------------------------------------------------------------------------
# Files and paths.

function Resolve-PathFrom($Spec) {
    # docs/agent-protocol.md, path_from: for each matching key and each string value named
    # value_name (all if omitted) whose data matches value_regex (if given): group 1 if the
    # regex has one and it matched, else the whole data; then append; then %VAR% expansion.
    $found = New-Object System.Collections.Generic.List[object]
    if ($null -eq $Spec) { return ,$found }
    $regPath = ConvertTo-RegPath $Spec.key 'path_from.key'
    $regex = New-CheckedRegex $Spec.value_regex 'path_from.value_regex'
    foreach ($entry in (Find-RegKeys $regPath)) {
        try {
            foreach ($name in $entry.Key.GetValueNames()) {
                if ($null -ne $Spec.value_name -and $name -ne $Spec.value_name) { continue }
                $kind = [string]$entry.Key.GetValueKind($name)
                if ($kind -ne 'String' -and $kind -ne 'ExpandString') { continue }
                $data = [string]$entry.Key.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                if ($null -ne $regex) {
                    $match = $regex.Match($data)
                    if (-not $match.Success) { continue }
                    if ($match.Groups.Count -gt 1 -and $match.Groups[1].Success) { $data = $match.Groups[1].Value }
                }
                if ($null -ne $Spec.append) { $data = $data + $Spec.append }
                $found.Add(@{ Path = [Environment]::ExpandEnvironmentVariables($data); SourceKey = $entry.Path })
            }
        } finally {
            $entry.Key.Dispose()
        }
    }
    return ,$found
}

function Get-FileTargets($Paths, $PathFrom) {
    # Plain paths first (no source key), then the registry-indirected ones.
    $targets = New-Object System.Collections.Generic.List[object]
    foreach ($path in @($Paths)) {
        if ($null -eq $path) { continue }
        $targets.Add(@{ Path = [Environment]::ExpandEnvironmentVariables($path); SourceKey = $null })
    }
    foreach ($entry in (Resolve-PathFrom $PathFrom)) { $targets.Add($entry) }
    return ,$targets
}

function Open-SharedRead([string]$Path) {
    # SQL Server keeps ERRORLOG open for writing; share read, write and delete with it.
    return (New-Object System.IO.FileStream($Path, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]'ReadWrite, Delete'))
}

function Get-StreamEncoding($Stream) {
    # BOM detection; ERRORLOG is UTF-16LE with a BOM (reference sqlserver-tls.md section 3).
    # Leaves the stream after the BOM. Without a BOM the text is read as UTF-8.
    $bom = New-Object byte[] 3
    $count = $Stream.Read($bom, 0, 3)
    if ($count -ge 3 -and $bom[0] -eq 0xEF -and $bom[1] -eq 0xBB -and $bom[2] -eq 0xBF) {
        return @{ Name = 'utf-8-bom'; Encoding = $Utf8 }
    }
    if ($count -ge 2 -and $bom[0] -eq 0xFF -and $bom[1] -eq 0xFE) {
        $null = $Stream.Seek(2, [System.IO.SeekOrigin]::Begin)
        return @{ Name = 'utf-16le'; Encoding = (New-Object System.Text.UnicodeEncoding($false, $false)) }
    }
    if ($count -ge 2 -and $bom[0] -eq 0xFE -and $bom[1] -eq 0xFF) {
        $null = $Stream.Seek(2, [System.IO.SeekOrigin]::Begin)
        return @{ Name = 'utf-16be'; Encoding = (New-Object System.Text.UnicodeEncoding($true, $false)) }
    }
    $null = $Stream.Seek(0, [System.IO.SeekOrigin]::Begin)
    return @{ Name = 'utf-8'; Encoding = $Utf8 }
}

function Read-TextTail([string]$Path, [int]$MaxLines, $Regex) {
    # The last MaxLines lines (after the regex filter), streamed so that a large log never sits in memory.
    if (-not [System.IO.File]::Exists($Path)) {
        return @{ Exists = $false; Encoding = $null; Lines = (New-Object System.Collections.Generic.List[object]) }
    }
    $kept = New-Object System.Collections.Generic.Queue[string]
    $stream = Open-SharedRead $Path
    try {
        $encoding = Get-StreamEncoding $stream
        $reader = New-Object System.IO.StreamReader($stream, $encoding.Encoding, $false)
        while ($null -ne ($line = $reader.ReadLine())) {
            if ($null -ne $Regex -and -not $Regex.IsMatch($line)) { continue }
            $kept.Enqueue($line)
            if ($kept.Count -gt $MaxLines) { $null = $kept.Dequeue() }
        }
    } finally {
        $stream.Dispose()
    }
    $lines = New-Object System.Collections.Generic.List[object]
    foreach ($line in $kept) { $lines.Add($line) }
    return @{ Exists = $true; Encoding = $encoding.Name; Lines = $lines }
}

function Read-AllLines([string]$Path) {
    $lines = New-Object System.Collections.Generic.List[object]
    $stream = Open-SharedRead $Path
    try {
        $reader = New-Object System.IO.StreamReader($stream, $Utf8, $true)
        while ($null -ne ($line = $reader.ReadLine())) {
            if ($line -ne '') { $lines.Add($line) }
        }
    } finally {
        $stream.Dispose()
    }
    return ,$lines
}

# ---------------------------------------------------------------------------
# Journal: %ProgramData%\mssql.tls\journal\<id>.jsonl, one JSON document per line.

function Get-JournalDirectory([bool]$Create) {
    if ([string]::IsNullOrEmpty($env:ProgramData)) { throw (New-AgentError 'error' 'ProgramData is not set') }
    $root = [System.IO.Path]::Combine($env:ProgramData, 'mssql.tls')
    $directory = [System.IO.Path]::Combine($root, 'journal')
    if ($Create -and -not [System.IO.Directory]::Exists($root)) {
        # Only administrators and SYSTEM may plant files where an elevated agent appends.
        $security = New-Object System.Security.AccessControl.DirectorySecurity
        $security.SetAccessRuleProtection($true, $false)
        foreach ($sid in @('S-1-5-32-544', 'S-1-5-18')) {
            $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
            $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($identity, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')
            $security.AddAccessRule($rule)
        }
        $null = [System.IO.Directory]::CreateDirectory($root, $security)
    }
    if ($Create) { $null = [System.IO.Directory]::CreateDirectory($directory) }
    foreach ($path in @($root, $directory)) {
        if ([System.IO.Directory]::Exists($path) -and ([int]([System.IO.File]::GetAttributes($path) -band [System.IO.FileAttributes]::ReparsePoint)) -ne 0) {
            throw (New-AgentError 'access_denied' ('{0} is a reparse point; refusing to use it for the journal' -f $path))
        }
    }
    return $directory
}

function Get-JournalPath([string]$Id, [bool]$Create) {
    if ($Id -cnotmatch $JournalIdPattern) {
        throw (New-AgentError 'invalid_request' ("field 'id': expected 1-64 characters of [A-Za-z0-9_.-], got '{0}'" -f $Id))
    }
    return [System.IO.Path]::Combine((Get-JournalDirectory $Create), $Id + '.jsonl')
}

function Add-JournalLine([string]$Id, [string]$Line) {
    # Flushed to disk before the op it announces runs (write-ahead).
    if ($Line.Contains("`n") -or $Line.Contains("`r")) {
        throw (New-AgentError 'invalid_request' "field 'line': expected one JSON document without a newline")
    }
    $path = Get-JournalPath $Id $true
    $bytes = $Utf8.GetBytes($Line + "`r`n")
    $stream = New-Object System.IO.FileStream($path, [System.IO.FileMode]::Append, [System.IO.FileAccess]::Write, [System.IO.FileShare]::Read)
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
    return $path
}

# ---------------------------------------------------------------------------
# Certificates: LocalMachine stores through X509Store; context properties through
# crypt32 (reference sqlserver-tls.md section 6), compiled once per process and only
# in batches that read or write them.

function Initialize-CertProperties {
    if ($null -ne ('MssqlTls.CertProperties' -as [type])) { return }
    Add-Type -TypeDefinition @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace MssqlTls
{
    public static class CertProperties
    {
        private const int CRYPT_E_NOT_FOUND = unchecked((int)0x80092004);

        [StructLayout(LayoutKind.Sequential)]
        private struct CRYPT_DATA_BLOB
        {
            public int cbData;
            public IntPtr pbData;
        }

        [DllImport("crypt32.dll", SetLastError = true)]
        private static extern bool CertGetCertificateContextProperty(IntPtr pCertContext, int dwPropId, byte[] pvData, ref int pcbData);

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

function Get-CngKeyProvider($Cert) {
    # GetRSAPrivateKey/GetECDsaPrivateKey exist from .NET 4.6 (4.6.1 for ECDsa); on older
    # frameworks the type literal fails and the provider stays unknown.
    $key = $null
    try { $key = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Cert) } catch { $key = $null }
    if ($null -eq $key) {
        try { $key = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($Cert) } catch { $key = $null }
    }
    if ($null -eq $key) { return $null }
    try {
        if ($null -ne $key.PSObject.Properties['Key']) { return [string]$key.Key.Provider.Provider }
        if ($null -ne $key.PSObject.Properties['CspKeyContainerInfo']) { return [string]$key.CspKeyContainerInfo.ProviderName }
        return $null
    } finally {
        $key.Dispose()
    }
}

function Get-CertKeyInfo($Cert) {
    # SQL Server wants a legacy CAPI key with KeySpec AT_KEYEXCHANGE (reference sqlserver-tls.md
    # section 4). .PrivateKey answers for CAPI keys and throws for CNG keys, which are then
    # reported by their key storage provider, without a KeySpec.
    $info = @{ Provider = $null; Spec = $null }
    if (-not $Cert.HasPrivateKey) { return $info }
    $legacy = $null
    try { $legacy = $Cert.PrivateKey } catch { $legacy = $null }
    if ($null -ne $legacy -and $null -ne $legacy.PSObject.Properties['CspKeyContainerInfo']) {
        $info.Provider = [string]$legacy.CspKeyContainerInfo.ProviderName
        $info.Spec = [int]$legacy.CspKeyContainerInfo.KeyNumber
        return $info
    }
    try { $info.Provider = Get-CngKeyProvider $Cert } catch { $info.Provider = $null }
    return $info
}

function Get-CertEntry($Cert) {
    $key = Get-CertKeyInfo $Cert
    return [ordered]@{
        thumbprint      = $Cert.Thumbprint.ToUpperInvariant()
        der             = [Convert]::ToBase64String($Cert.RawData)
        has_private_key = [bool]$Cert.HasPrivateKey
        key_provider    = $key.Provider
        key_spec        = $key.Spec
        prop9           = ConvertTo-Base64OrNull ([MssqlTls.CertProperties]::Get($Cert.Handle, 9))
    }
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

function Wait-ServiceStatus($Service, [string]$Status, [DateTime]$Deadline) {
    $remaining = $Deadline - [DateTime]::UtcNow
    if ($remaining -lt [TimeSpan]::Zero) { $remaining = [TimeSpan]::Zero }
    $Service.WaitForStatus($Status, $remaining)
}

function Stop-ServiceAndWait($Service, [DateTime]$Deadline) {
    $Service.Refresh()
    if ([string]$Service.Status -eq 'Stopped') { return }
    if ([string]$Service.Status -ne 'StopPending') { $Service.Stop() }
    Wait-ServiceStatus $Service 'Stopped' $Deadline
}

function Start-ServiceAndWait($Service, [DateTime]$Deadline) {
    $Service.Refresh()
    if ([string]$Service.Status -eq 'Running') { return }
    if ([string]$Service.Status -ne 'StartPending') { $Service.Start() }
    Wait-ServiceStatus $Service 'Running' $Deadline
}

function Restart-ServiceWithDependents($Service, [string]$StartMode, [bool]$WithDependents, [long]$TimeoutSeconds) {
    # Record the running dependents, stop them (DependentServices lists them in stop order),
    # stop the service, start it, then start those dependents in reverse order.
    if ($StartMode -eq 'Disabled') {
        throw (New-AgentError 'error' ("service '{0}' is disabled and cannot be restarted" -f $Service.ServiceName))
    }
    $running = New-Object System.Collections.Generic.List[object]
    foreach ($dependent in $Service.DependentServices) {
        $dependent.Refresh()
        if ([string]$dependent.Status -eq 'Running') { $running.Add($dependent) }
    }
    if ($running.Count -gt 0 -and -not $WithDependents) {
        throw (New-AgentError 'error' ("service '{0}' has running dependents ({1}); expected with_dependents=true" -f $Service.ServiceName, (@($running | ForEach-Object { $_.ServiceName }) -join ', ')))
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    $stopped = New-Object System.Collections.Generic.List[object]
    $started = New-Object System.Collections.Generic.List[object]
    try {
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
        $message = '{0} (stopped: [{1}]; started: [{2}])' -f (Get-ErrorMessage $_.Exception), ($stopped -join ', '), ($started -join ', ')
        throw (New-AgentError (Get-ErrorKind $_.Exception) $message)
    }
    $Service.Refresh()
    return [ordered]@{ stopped = $stopped; started = $started; state = [string]$Service.Status }
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
    $null = Invoke-CimMethod -InputObject $Resource -MethodName TakeOffline -Arguments @{ TimeOut = (Get-RemainingSeconds $deadline) }
    $null = Wait-ClusterResourceState $Resource $ClusterOffline $deadline
    $dependents = New-Object System.Collections.Generic.List[object]
    foreach ($other in $onlineBefore) {
        if ([long](Get-CimInstance -InputObject $other).State -ne $ClusterOnline) {
            $dependents.Add($other)
            $offline.Add([string]$other.Name)
        }
    }
    $offline.Add([string]$Resource.Name)
    $null = Invoke-CimMethod -InputObject $Resource -MethodName BringOnline -Arguments @{ TimeOut = (Get-RemainingSeconds $deadline) }
    $final = Wait-ClusterResourceState $Resource $ClusterOnline $deadline
    $online.Add([string]$Resource.Name)
    foreach ($dependent in $dependents) {
        $null = Invoke-CimMethod -InputObject $dependent -MethodName BringOnline -Arguments @{ TimeOut = (Get-RemainingSeconds $deadline) }
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
    if ($null -eq $key) { return [ordered]@{ exists = $false; values = [ordered]@{}; subkeys = [ordered]@{} } }
    try { $node = Read-RegNode $key $depth $op.values } finally { $key.Dispose() }
    return [ordered]@{ exists = $true; values = $node['values']; subkeys = $node['subkeys'] }
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

function Invoke-OpRegRemove($op) {
    $regPath = ConvertTo-RegPath $op.path 'path'
    $hasExpect = Test-OpField $op 'expect'
    if ($null -ne $op.name) {
        return (Remove-RegValueAt $regPath $op.name $hasExpect $op.expect ('{0}\{1}' -f $op.path, $op.name))
    }
    return (Remove-RegKeyAt $regPath ($op.recurse -eq $true) $hasExpect $op.expect $op.path)
}

function Invoke-OpCertList($op) {
    Initialize-CertProperties
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
            $entries.Add((Get-CertEntry $cert))
        }
    } finally {
        $store.Close()
    }
    return ,$entries
}

function Invoke-OpCertPropGet($op) {
    Initialize-CertProperties
    $thumbprint = Assert-Thumbprint $op.thumbprint
    $propId = [int](Get-IntField $op.prop_id 0 1 65535 'prop_id')
    $store = Open-CertStore $op.store $false
    try {
        $cert = Find-StoreCert $store $thumbprint
        $data = [MssqlTls.CertProperties]::Get($cert.Handle, $propId)
    } finally {
        $store.Close()
    }
    return [ordered]@{ present = ($null -ne $data); data = ConvertTo-Base64OrNull $data }
}

function Invoke-OpCertPropSet($op) {
    Initialize-CertProperties
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
    Initialize-CertProperties
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
        foreach ($serviceName in @($services.Keys | Sort-Object)) {
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
    $entries = New-Object System.Collections.Generic.List[object]
    foreach ($target in (Get-FileTargets $op.paths $op.path_from)) {
        $entry = [ordered]@{ path = $target.Path; exists = $false; product_version = $null; file_version = $null; source_key = $target.SourceKey }
        if ([System.IO.File]::Exists($target.Path)) {
            $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($target.Path)
            $entry['exists'] = $true
            $entry['product_version'] = ConvertTo-StringOrNull $info.ProductVersion
            $entry['file_version'] = ConvertTo-StringOrNull $info.FileVersion
        }
        $entries.Add($entry)
    }
    return ,$entries
}

function Invoke-OpFileTail($op) {
    $maxLines = [int](Get-IntField $op.max_lines 200 0 1000000 'max_lines')
    $regex = New-CheckedRegex $op.pattern 'pattern'
    $suffixes = @('')
    if ($null -ne $op.suffixes) { $suffixes = $op.suffixes }
    $entries = New-Object System.Collections.Generic.List[object]
    foreach ($target in (Get-FileTargets $op.paths $op.path_from)) {
        foreach ($suffix in $suffixes) {
            $path = $target.Path + $suffix
            $tail = Read-TextTail $path $maxLines $regex
            $entries.Add([ordered]@{ path = $path; exists = $tail.Exists; encoding = $tail.Encoding; lines = $tail.Lines; source_key = $target.SourceKey })
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

function Invoke-OpOsInfo($op) {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    return [ordered]@{
        computer_name = [Environment]::MachineName
        dns_domain    = ConvertTo-StringOrNull ([System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties().DomainName)
        ps_version    = $PSVersionTable.PSVersion.ToString()
        last_boot_utc = ConvertTo-IsoUtc $os.LastBootUpTime
        is_64bit      = [Environment]::Is64BitOperatingSystem
    }
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
            # Oldest first, so the newest record is last.
            $info = New-Object System.IO.DirectoryInfo($directory)
            $found = @($info.GetFiles('*.jsonl') | Sort-Object -Property 'CreationTimeUtc', 'Name')
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
        $records.Add([ordered]@{ id = $name.Substring(0, $name.Length - 6); lines = Read-AllLines $files[$i].FullName })
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
        'cert.list' { Invoke-OpCertList $op }
        'cert.prop.get' { Invoke-OpCertPropGet $op }
        'cert.prop.set' { Invoke-OpCertPropSet $op }
        'cert.prop.clear' { Invoke-OpCertPropClear $op }
        'svc.query' { Invoke-OpSvcQuery $op }
        'svc.restart' { Invoke-OpSvcRestart $op }
        'cluster.query' { Invoke-OpClusterQuery $op }
        'cluster.restart' { Invoke-OpClusterRestart $op }
        'file.version' { Invoke-OpFileVersion $op }
        'file.tail' { Invoke-OpFileTail $op }
        'tls.suites' { Invoke-OpTlsSuites $op }
        'os.info' { Invoke-OpOsInfo $op }
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

function New-ErrorResult([string]$Kind, [string]$Message) {
    return [ordered]@{ ok = $false; error = [ordered]@{ kind = $Kind; message = $Message } }
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
    $response = [ordered]@{ v = $ProtocolVersion; journal_id = $null; results = $results }
    if ($null -ne $journal) {
        $response['journal_id'] = $journal.id
        try {
            $null = Add-JournalLine $journal.id $journal.line
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
            $results.Add((New-ErrorResult (Get-ErrorKind $_.Exception) (Get-ErrorMessage $_.Exception)))
            if ($isWrite) { $stoppedAt = $index }
            continue
        }
        $results.Add((New-OkResult $data))
        if ($isWrite -and $null -ne $journal) {
            try {
                $null = Add-JournalLine $journal.id ('{"applied":' + $index + '}')
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
