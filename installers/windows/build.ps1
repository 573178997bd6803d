<#
.SYNOPSIS
Build dist\doca (the one-directory build: doca-desktop.exe, doca.exe and
docker-credential-doca.exe with the VM image inside) and dist\Doca-<version>-setup.exe.

.DESCRIPTION
  installers\windows\build.ps1 -VmImage ARCHIVE [-Out DIR] [-Python py] [-Iscc ISCC.exe]
      [-CertificateThumbprint HASH -TimestampUrl URL]

ARCHIVE is the image `python -m engine_vm.image export` wrote on an x86-64 Linux host. The
build's venv is filled by pip from the configured index. The installer is compiled by Inno
Setup 6 (ISCC.exe on PATH, or -Iscc). With -CertificateThumbprint the executables and the
installer are signed by signtool (from the Windows SDK, on PATH) with that certificate from
the user's or machine's store, and time-stamped by -TimestampUrl.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$VmImage,
    [string]$Out = "",
    [string]$Python = "py",
    [string]$Iscc = "ISCC.exe",
    [string]$CertificateThumbprint = "",
    [string]$TimestampUrl = ""
)
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$Repo = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
$Windows = Join-Path $Repo "installers\windows"
$PyInstallerDir = Join-Path $Repo "installers\pyinstaller"
if (-not $Out) { $Out = Join-Path $Repo "dist" }
if (-not (Test-Path $VmImage -PathType Leaf)) { throw "build.ps1: ${VmImage}: no such file" }
if ($CertificateThumbprint -and -not $TimestampUrl) {
    throw "build.ps1: signing needs -TimestampUrl (unstamped signatures expire with the certificate)"
}
$VmImage = (Resolve-Path $VmImage).Path
New-Item -ItemType Directory -Force -Path $Out | Out-Null
$Out = (Resolve-Path $Out).Path

# Stop at the first native command that fails, as `set -e` would.
function Invoke-Checked {
    param([string]$Command, [string[]]$Arguments)
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "build.ps1: $Command exited $LASTEXITCODE" }
}

function Sign-Files {
    param([string[]]$Paths)
    if (-not $CertificateThumbprint) { return }
    Invoke-Checked "signtool.exe" (@("sign", "/sha1", $CertificateThumbprint, "/fd", "sha256",
        "/tr", $TimestampUrl, "/td", "sha256") + $Paths)
}

$Work = Join-Path ([System.IO.Path]::GetTempPath()) ("doca-build-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $Work | Out-Null
try {
    Write-Host "build.ps1: the build environment"
    Invoke-Checked $Python @("-3", "-m", "venv", "$Work\venv")
    $Py = "$Work\venv\Scripts\python.exe"
    Invoke-Checked $Py @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
    Invoke-Checked $Py @("-m", "pip", "install", "--quiet", $Repo, "pyinstaller")

    Write-Host "build.ps1: verifying and unpacking $VmImage"
    Invoke-Checked $Py @("-m", "engine_vm.image", "import", $VmImage, "--to", "$Work\vm-image")

    Write-Host "build.ps1: the icon"
    Invoke-Checked $Py @("$PyInstallerDir\icons.py", "$Work\doca.ico")

    Write-Host "build.ps1: the one-directory build"
    $Bundle = Join-Path $Out "doca"
    if (Test-Path $Bundle) { Remove-Item -Recurse -Force $Bundle }
    Invoke-Checked $Py @("-m", "PyInstaller", "$PyInstallerDir\doca.spec", "--noconfirm",
        "--log-level", "WARN", "--distpath", $Out, "--workpath", "$Work\build", "--",
        "--vm-image", "$Work\vm-image", "--icon", "$Work\doca.ico")
    Sign-Files (Get-ChildItem -Path $Bundle -Filter "*.exe" | ForEach-Object { $_.FullName })

    Write-Host "build.ps1: the installer"
    $Version = (& $Py -c "from importlib.metadata import version; print(version('doca'))").Trim()
    Invoke-Checked $Iscc @("/Q", "/DAppVersion=$Version", "/DSourceDir=$Bundle",
        "/DOutputDir=$Out", "/DAppIcon=$Work\doca.ico", "$Windows\doca.iss")
    $Setup = Join-Path $Out "Doca-$Version-setup.exe"
    Sign-Files @($Setup)
    Write-Host $Setup
}
finally {
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}
