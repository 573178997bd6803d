"""The Go text/template subset of ``--format``: docker's own template tests and documented
examples, Go's semantics, and error messages as the docker CLI 28 prints them."""

from __future__ import annotations

import pytest

from doca.cli import output_format as fmt
from doca.cli.ps_format import ContainerContext, displayable_ports
from doca.cli.tabwriter import tabwrite, text_width
from doca.cli.template_values import GoStruct, go_float, go_json, sprintf
from doca.cli.templates import (
    HEADER_FUNCTIONS,
    Template,
    TemplateExecError,
    TemplateSyntaxError,
    render,
)

INSPECTED = {
    "Name": "/web",
    "Args": ["-c", "echo hi"],
    "Image": "sha256:b54f6aa807a9",
    "Config": {"Image": "busybox:latest", "Labels": {"com.example.app": "web", "tier": "1"},
               "Cmd": ["sh", "-c", "echo hi"], "Env": []},
    "State": {"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0},
    "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data"}],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"},
                                     "back": {"IPAddress": "10.0.0.3"}}},
}  # fmt: skip


# -- docker/cli templates/templates_test.go ---------------------------------------------------
def test_json_function() -> None:
    assert render("{{json .Ports}}", {"Ports": "0.0.0.0:2->8/udp"}) == '"0.0.0.0:2->8/udp"'


def test_string_functions() -> None:
    assert render('{{join (split . ":") "/"}}', "text:with:colon") == "text/with/colon"


def test_named_template() -> None:
    assert Template("this is a {{ . }}", "foo").render("string") == "this is a string"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{truncate . 5}}", "tupx5"),
        ("{{truncate . 25}}", "tupx5xzf6hvsrhnruz5cr8gwp"),
        ("{{truncate . 30}}", "tupx5xzf6hvsrhnruz5cr8gwp"),
        ("{{pad . 3 3}}", "   tupx5xzf6hvsrhnruz5cr8gwp   "),
    ],
)
def test_truncate_and_pad(template: str, expected: str) -> None:
    assert render(template, "tupx5xzf6hvsrhnruz5cr8gwp") == expected
    assert render(template, "") == ""
    with pytest.raises(TemplateExecError):
        render(template, None)


@pytest.mark.parametrize(
    "template",
    ["{{ json .}}", '{{ split . ","}}', '{{ join . ","}}', "{{ title .}}", "{{ lower .}}",
     "{{ upper .}}", "{{ truncate . 2}}"],
)  # fmt: skip
def test_header_functions_leave_the_header_alone(template: str) -> None:
    assert Template(template).render("hello world", HEADER_FUNCTIONS) == "hello world"


# -- the documented examples (docs.docker.com/engine/cli/formatting) --------------------------
def test_documented_examples() -> None:
    assert render('{{join .Args " , "}}', INSPECTED) == "-c , echo hi"
    assert render("{{json .Mounts}}", INSPECTED) == (
        '[{"Type":"volume","Name":"data","Destination":"/data"}]'
    )
    assert render("{{lower .Name}}", {"Name": "/WEB"}) == "/web"
    assert render("{{upper .Name}}", INSPECTED) == "/WEB"
    assert render("{{title .Name}}", {"Name": "my-web_app x"}) == "My-Web_app X"
    assert render('{{split .Config.Image ":"}}', INSPECTED) == "[busybox latest]"
    networks = "{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}"
    # A map ranges in key order: back, then bridge.
    assert render(networks, INSPECTED) == "10.0.0.3\n172.17.0.2\n"


def test_documented_table() -> None:
    rows = [fmt.FormatterContext()]
    text = fmt.render("table {{.Name}}\\t{{.Tag}}", [], {"Name": "NAME", "Tag": "TAG"})
    assert text == "NAME      TAG\n"
    assert fmt.render("{{.Name}}", [], {}) == ""
    assert rows  # contexts without fields render nothing


# -- Go text/template semantics ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.Config.Labels.tier}}", "1"),
        ('{{index .Config.Labels "com.example.app"}}', "web"),
        ('{{index .Config.Labels "missing"}}', ""),
        ("{{.Config.Labels.missing}}", "<no value>"),
        ("{{.State.Pid}} {{.State.Running}} {{.Config.Env}}", "42 true []"),
        ("{{.Config.Cmd}}", "[sh -c echo hi]"),
        ("{{.Config.Labels}}", "map[com.example.app:web tier:1]"),
        ("{{.State}}", "{running true 42 0}"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if .State.ExitCode}}failed{{else if .State.Running}}running{{end}}", "running"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{with .Config.Env}}x{{else}}no env{{end}}", "no env"),
        ("{{range $i, $e := .Config.Cmd}}{{$i}}={{$e}};{{end}}", "0=sh;1=-c;2=echo hi;"),
        ("{{range $k, $v := .Config.Labels}}{{$k}} {{end}}", "com.example.app tier "),
        ("{{range .Config.Env}}x{{else}}empty{{end}}", "empty"),
        ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{break}}{{end}}{{.}}{{end}}", "sh"),
        ("{{range .Config.Cmd}}{{if eq . \"-c\"}}{{continue}}{{end}}{{.}}{{end}}", "shecho hi"),
        ("{{$x := .State.Pid}}{{$x = 7}}{{$x}}", "7"),
        ("{{$}}", "{/web [-c echo hi] sha256:b54f6aa807a9 {busybox:latest map[com.example.app:"
                  "web tier:1] [sh -c echo hi] []} {running true 42 0} [{volume data /data}] "
                  "{map[back:{10.0.0.3} bridge:{172.17.0.2}]}}"),
        ("{{and .State.Running .Name}} {{or .State.ExitCode \"none\"}}", "/web none"),
        ("{{not .State.Running}} {{len .Config.Cmd}} {{len .Name}}", "false 3 4"),
        ("{{eq .State.Status \"exited\" \"running\"}} {{ne 1 2}} {{lt 1 2}} {{ge \"b\" \"a\"}}",
         "true true true true"),
        ("{{slice .Name 1 3}} {{index .Config.Cmd 2}}", "we echo hi"),
        ('{{printf "%s has pid %d (%5.1f%%)" .Name .State.Pid 12.5}}', "/web has pid 42 ( 12.5%)"),
        ('{{print "a" 1 2 "b"}}|{{println 1 "x"}}', "a1 2b|1 x\n"),
        ("{{.Name | upper | printf \"<%s>\"}}", "</WEB>"),
        ("{{(index .Mounts 0).Name}}", "data"),
        ("a {{- /* a comment */ -}} b\n{{- \" c \" -}}\n d", "ab c d"),
        ("{{html \"<a href='x'>\"}} {{urlquery \"a b&c\"}} {{js \"it's\"}}",
         "&lt;a href=&#39;x&#39;&gt; a+b%26c it\\'s"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{'a'}} {{0x1F}} {{1e3}} {{-2}}", "97 31 1000 -2"),
    ],
)  # fmt: skip
def test_go_semantics(template: str, expected: str) -> None:
    assert render(template, INSPECTED) == expected


def test_json_keeps_the_engines_key_order_and_html() -> None:
    assert go_json({"b": 1, "a": ["<x>", None, True, 1.5]}) == '{"b":1,"a":["<x>",null,true,1.5]}'
    assert go_json("\u2028") == '"\\u2028"'


def test_formatter_contexts_marshal_sorted_and_escaped() -> None:
    container = {
        "Id": "f" * 64,
        "Names": ["/web"],
        "Image": "busybox",
        "Command": "a > b",
        "Created": 0,
        "State": "running",
        "Status": "Up",
        "Labels": {"b": "2", "a": "1"},
        "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "IP": "0.0.0.0", "Type": "tcp"}],
    }
    text = render("{{json .}}", ContainerContext(container, now=1))  # fmt: skip
    assert text.startswith('{"Command":"\\"a \\u003e b\\"","CreatedAt":')
    assert '"Labels":"a=1,b=2"' in text
    assert '"Ports":"0.0.0.0:8080-\\u003e80/tcp"' in text
    assert '"Platform":null' in text and '"Size":"0B"' in text
    assert render('{{.Label "b"}} {{.ID}} {{.Names}}', ContainerContext(container)) == (
        "2 ffffffffffff web"
    )


def test_go_structs_refuse_missing_fields_but_maps_do_not() -> None:
    version = GoStruct("*types.Version", Version="1", Components=[])
    assert render("{{.Version}} {{.version}}", version) == "1 1"
    with pytest.raises(TemplateExecError, match="can't evaluate field Nope in type"):
        render("{{.Nope}}", version)
    strict = Template("{{.State.Nope}}")
    with pytest.raises(TemplateExecError) as error:
        strict.render(INSPECTED, missing_key_error=True)
    assert str(error.value) == (
        'template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"'
    )
    assert strict.render({"State": {"running": 1}}, missing_key_error=True) == "<no value>"


# -- errors, worded as docker 28 prints them -----------------------------------------------------
@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{foo}}", 'template: :1: function "foo" not defined'),
        ("{{.X", "template: :1: unclosed action"),
        ("{{if .X}}", "template: :1: unexpected EOF"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{}}", "template: :1: missing value for command"),
        ("{{.ID | 3}}", "template: :1: non executable command in pipeline stage 2"),
        ("{{$y}}", 'template: :1: undefined variable "$y"'),
        ('{{"a}}', "template: :1: unterminated quoted string"),
        ('{{"x".Y}}', 'template: :1: unexpected . after term "\\"x\\""'),
        ("{{ 3x }}", 'template: :1: bad number syntax: "3x"'),
        ("{{ !x }}", 'template: :1: unexpected "!" in command'),
        ("{{ .ID) }}", "template: :1: unexpected right paren"),
        ("{{ (.ID }}", "template: :1: unclosed left paren"),
        ("{{json.}}", "template: :1: unexpected <.> in operand"),
        ("{{range $i, $e, $f := .Names}}{{end}}", "template: :1: too many declarations in range"),
        ("a\n{{foo}}", 'template: :2: function "foo" not defined'),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as error:
        Template(template)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{upper 3}}", 'template: :1:8: executing "" at <3>: expected string; found 3'),
        ("{{.Names.Foo}}", 'template: :1:8: executing "" at <.Names.Foo>: can\'t evaluate field '
                           "Foo in type string"),
        ("{{.Names 1}}", 'template: :1:2: executing "" at <.Names>: wrong number of args for '
                         "Names: want 0 got 1"),
        ("{{index}}", 'template: :1:2: executing "" at <index>: wrong number of args for index: '
                      "want at least 1 got 0"),
        ("{{len 3}}", 'template: :1:2: executing "" at <len 3>: error calling len: len of type '
                      "int"),
        ("{{.Foo}}", 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type '
                     "*formatter.ContainerContext"),
        ('{{index .Labels "a"}}', 'template: :1:2: executing "" at <index .Labels "a">: error '
                                  "calling index: cannot index slice/array with type string"),
        ("{{.Label}}", 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: '
                       "want 1 got 0"),
        ("{{.ID}} {{.Nope.X}}", 'template: :1:15: executing "" at <.Nope.X>: can\'t evaluate '
                                "field Nope in type *formatter.ContainerContext"),
        ("{{ (.ID).X }}", 'template: :1:4: executing "" at <.ID>: can\'t evaluate field X in '
                          "type string"),
        ("{{.A.B.C.D.E.F.G.H.I.J.K}}", 'template: :1:4: executing "" at <.A.B.C.D.E.F.G.H.I.J.K>'
                                       ": can't evaluate field A in type "
                                       "*formatter.ContainerContext"),
        ("{{range .Names}}{{end}}", 'template: :1:8: executing "" at <.Names>: range can\'t '
                                    "iterate over web"),
    ],
)  # fmt: skip
def test_execution_errors(template: str, message: str) -> None:
    container = ContainerContext({"Id": "a" * 64, "Names": ["/web"]})
    with pytest.raises(TemplateExecError) as error:
        Template(template).render(container)
    assert str(error.value) == message


def test_output_before_an_error_is_kept() -> None:
    out, error = Template("a{{.Name}}b{{.Nope.X}}c").render_partial(GoStruct("T", Name="n"))
    assert out == "anb"
    assert error is not None


# -- tables ---------------------------------------------------------------------------------------
def test_tabwriter_matches_docker_context_ls() -> None:
    text = (
        "NAME\tDESCRIPTION\tDOCKER ENDPOINT\tERROR\n"
        "current *\tdescription of current\thttps://someswarmserver.example.com\t\n"
        "default\tCurrent DOCKER_HOST based configuration\tunix:///var/run/docker.sock\t\n"
    )
    assert tabwrite(text).splitlines() == [
        "NAME        DESCRIPTION                               DOCKER ENDPOINT"
        "                       ERROR",
        "current *   description of current                    "
        "https://someswarmserver.example.com   ",
        "default     Current DOCKER_HOST based configuration   unix:///var/run/docker.sock"
        "           ",
    ]


def test_tabwriter_blocks_end_at_lines_without_the_column() -> None:
    assert tabwrite("a\tb\nxx\nccc\tddddddddddddd\te\n") == (
        "a         b\nxx\nccc       ddddddddddddd   e\n"
    )
    assert text_width("日本") == 4


def test_table_headers_use_column_names() -> None:
    header = {"ID": "CONTAINER ID", "Names": "NAMES"}
    rows = [ContainerContext({"Id": "b" * 64, "Names": ["/x"], "Labels": {"com.x_y-z": "v"}})]
    assert fmt.render("table {{.ID}}\\t{{.Names}}", rows, header) == (
        "CONTAINER ID   NAMES\nbbbbbbbbbbbb   x\n"
    )
    assert fmt.render('table {{.Label "com.x_y-z"}}', rows, header) == "x y z\nv\n"
    # docker's header functions take strings: the header of {{json .}} stays empty.
    assert fmt.render("table {{json .}}", rows, header).startswith('\n{"Command":')
    assert fmt.render("table {{.Nope}}", [], header) == "<no value>\n"
    with pytest.raises(fmt.FormatError) as error:
        fmt.render("{{.Nope}}", rows, header)
    assert str(error.value).startswith("template parsing error: template: :1:2: executing")


# -- Go formatting --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (123456.0, "123456"), (1234567.0, "1.234567e+06"), (0.5, "0.5"),
     (1e-05, "1e-05"), (-3.25, "-3.25"), (1e21, "1e+21")],
)  # fmt: skip
def test_floats_print_as_go_prints_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_sprintf() -> None:
    assert sprintf("%s=%d %5.2f|%-4s|%q %v %x", ["a", 3, 2.5, "b", "q", [1, "x"], 255]) == (
        'a=3  2.50|b   |"q" [1 x] ff'
    )
    assert sprintf("%d %s", ["x"]) == "%!d(string=x) %!s(MISSING)"
    assert sprintf("%s", ["a", 1]) == "a%!(EXTRA int=1)"


def test_displayable_ports_group_as_docker_does() -> None:
    ports = [
        {"PrivatePort": 9000 + n, "PublicPort": 9000 + n, "IP": "0.0.0.0", "Type": "udp"}
        for n in range(3)
    ] + [
        {"PrivatePort": 7000, "Type": "tcp"},
        {"PrivatePort": 80, "PublicPort": 8080, "IP": "127.0.0.1", "Type": "tcp"},
        {"PrivatePort": 80, "PublicPort": 8080, "IP": "::", "Type": "tcp"},
    ]
    assert displayable_ports(ports) == (
        "7000/tcp, 0.0.0.0:9000-9002->9000-9002/udp, 127.0.0.1:8080->80/tcp, [::]:8080->80/tcp"
    )
    assert displayable_ports([{"PrivatePort": p, "Type": "tcp"} for p in (1, 2, 4)]) == (
        "1-2/tcp, 4/tcp"
    )
