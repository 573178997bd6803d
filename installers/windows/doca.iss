; Inno Setup 6 script of Doca's Windows installer; build.ps1 compiles it:
;   ISCC.exe /DAppVersion=0.1.0 /DSourceDir=dist\doca /DOutputDir=dist /DAppIcon=doca.ico doca.iss
;
; Installs the one-directory build under Program Files, a Start menu shortcut to the desktop
; app, and the install directory on the system PATH so that doca.exe and
; docker-credential-doca.exe are found by shells and by the docker CLI (credsStore "doca").
; The uninstaller removes the files, the shortcut and the PATH entry. The VM's disk and cache
; under %LOCALAPPDATA%\doca belong to the user and stay.

#ifndef AppVersion
  #error Pass /DAppVersion=VERSION
#endif
#ifndef SourceDir
  #error Pass /DSourceDir=DIR (PyInstaller's one-directory build)
#endif
#ifndef OutputDir
  #define OutputDir "."
#endif

[Setup]
; Never change the AppId: it is how an upgrade finds the installed version.
AppId={{6F0C2B1E-8D7A-4C55-9E2B-5A1D3C7F9B40}
AppName=Doca
AppVersion={#AppVersion}
AppVerName=Doca {#AppVersion}
AppPublisher=Doca
DefaultDirName={autopf}\Doca
DefaultGroupName=Doca
DisableProgramGroupPage=yes
; The PATH entry is the machine's: installing needs an administrator.
PrivilegesRequired=admin
ChangesEnvironment=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
OutputDir={#OutputDir}
OutputBaseFilename=Doca-{#AppVersion}-setup
#ifdef AppIcon
SetupIconFile={#AppIcon}
#endif
UninstallDisplayIcon={app}\doca-desktop.exe
UninstallDisplayName=Doca
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Running copies of the programs hold their files open.
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Doca"; Filename: "{app}\doca-desktop.exe"; WorkingDir: "{app}"
Name: "{autodesktop}\Doca"; Filename: "{app}\doca-desktop.exe"; WorkingDir: "{app}"; Tasks: desktopicon

[Registry]
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\doca-desktop.exe"; Description: "{cm:LaunchProgram,Doca}"; Flags: nowait postinstall skipifsilent

[Code]
const
  EnvironmentKey = 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';

{ Whether Dir is missing from the machine's PATH (compared case-insensitively, whole entries). }
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_LOCAL_MACHINE, EnvironmentKey, 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

{ Take the install directory out of the machine's PATH again. }
procedure RemovePath(Dir: string);
var
  Path: string;
  P: Integer;
begin
  if not RegQueryStringValue(HKEY_LOCAL_MACHINE, EnvironmentKey, 'Path', Path) then
    exit;
  P := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';');
  if P = 0 then
    exit;
  { P is where ';Dir;' starts in ';' + Path + ';', so the entry starts at P in Path: the
    first entry loses the ';' after it, any other the ';' before it (at P - 1). }
  if P = 1 then
    Delete(Path, 1, Length(Dir) + 1)
  else
    Delete(Path, P - 1, Length(Dir) + 1);
  RegWriteExpandStringValue(HKEY_LOCAL_MACHINE, EnvironmentKey, 'Path', Path);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemovePath(ExpandConstant('{app}'));
end;
