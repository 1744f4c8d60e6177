"""The command line: a thin shell over the library.

Every command parses its arguments, calls one public function and prints.
Library errors become one line on stderr and an exit code:

  0  a result was produced (ok, indeterminate or atypical)
  1  internal error (a bug: please report it)
  2  usage or input error (the message says what was wrong and what is accepted)
  3  batch: some rows failed (every row is still written)
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import MutableMapping

import click

from .exceptions import IhcError, InputError, ModelError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3

EXIT_CODES_HELP = ("Exit codes: 0 result produced (ok, indeterminate or atypical); "
                   "1 internal error; 2 usage or input error; 3 batch rows failed (all rows still written); "
                   "130/143 interrupted; 141 stdout closed by its reader.")


class IhcClickError(click.ClickException):
    """A library error shown as one line, exit code 2."""

    exit_code = EXIT_INPUT

    def format_message(self):
        return self.message


def _fail(exc):
    msg = str(exc) or exc.__class__.__name__
    msg = " ".join(msg.split())
    raise IhcClickError(msg)


def _text_arg(parts):
    """Join TEXT... arguments; a single '-' reads standard input."""
    if parts == ("-",):
        data = sys.stdin.buffer.read()
        return data.decode("utf-8", errors="replace")
    return " ".join(parts)


def _mode(strict, lenient):
    if strict and lenient:
        raise click.UsageError("--strict and --lenient cannot be used together")
    return "strict" if strict else ("lenient" if lenient else "default")


def _emit_json(obj):
    """JSON on stdout: indented for a person at a terminal, one compact line for a script."""
    if sys.stdout.isatty():
        click.echo(json.dumps(obj, ensure_ascii=False, indent=2))
    else:
        click.echo(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def _warn(lines):
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def _warn_beside_data(lines):
    """Warnings that are also inside the JSON asked for: echoed on stderr only to a person at a
    terminal. A script's stderr usually ends in a log, and these warnings quote the panel
    ("CD34 positive: ..."): patient data stays in the requested output."""
    if sys.stderr.isatty():
        _warn(lines)


_mode_options = [
    click.option("--strict", is_flag=True, help="Unknown markers or unparsed text are errors (exit 2)."),
    click.option("--lenient", is_flag=True, help="Unknown markers and unparsed text are reported without warnings."),
]
_morph_options = [
    click.option("--mitoses", default=None, metavar="TEXT",
                 help="Mitotic count with its denominator ('15/10 HPF', '3/50 HPF', '4/mm2') or a word (none, rare, frequent)."),
    click.option("--necrosis/--no-necrosis", default=None, help="Tumour (coagulative) necrosis present / absent."),
    click.option("--atypia", default=None, metavar="GRADE", help="Nuclear atypia: none, mild, moderate, severe."),
    click.option("--pleomorphic/--no-pleomorphic", default=None, help="Nuclear pleomorphism present / absent."),
    click.option("--cell-type", default=None, metavar="TYPE", help="spindle, epithelioid, mixed or pleomorphic."),
    click.option("--size", default=None, metavar="CM", help="Tumour size, greatest dimension in cm."),
    click.option("--age", default=None, metavar="YEARS", help="Patient age in years."),
    click.option("--sex", default=None, metavar="F|M", help="Patient sex."),
]


def _morphology(kw):
    """The morphology options as a mapping for the library (None when none was given)."""
    keys = ("mitoses", "necrosis", "atypia", "pleomorphic", "cell_type", "size", "age", "sex")
    given = {("size_cm" if k == "size" else k): kw.pop(k) for k in keys}
    given = {k: v for k, v in given.items() if v is not None}
    return given or None


_model_option = click.option(
    "--model", "model_path", type=click.Path(), default=None, envvar="IHC_MODEL",
    help="Model directory or model_card.json to use instead of the shipped model (also $IHC_MODEL). "
         "It is checked against its card's sha256 before use.")


def _add(options):
    def deco(f):
        for opt in reversed(options):
            f = opt(f)
        return f
    return deco


class _LazyCommands(MutableMapping):
    """The group's ``commands``: name -> command, each built by its factory on first look-up.

    Click's lazy-subcommand idea (its documentation's ``LazyGroup``) kept inside one module: a
    command's options are built only when that command is asked for, so ``ihc classify`` does not
    build the other commands' ~60 options at start. Iterating lists every name, so ``--help``, the
    group's ``commands`` and ``list_commands`` see them all."""

    def __init__(self):
        self._factories = {}
        self._built = {}

    def register(self, name, factory):
        self._factories[name] = factory

    def __getitem__(self, name):
        cmd = self._built.get(name)
        if cmd is None:
            cmd = self._built[name] = self._factories[name]()  # KeyError: no such command
        return cmd

    def __setitem__(self, name, cmd):
        self._built[name] = cmd
        self._factories.setdefault(name, None)

    def __delitem__(self, name):
        del self._factories[name]
        self._built.pop(name, None)

    def __iter__(self):
        return iter(self._factories)

    def __len__(self):
        return len(self._factories)


_COMMANDS = _LazyCommands()


def _command(name):
    """Register a command factory (a function defining the command and returning it) under ``name``."""
    def deco(factory):
        _COMMANDS.register(name, factory)
        return factory
    return deco


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP, commands=_COMMANDS)
@click.version_option(package_name="ihc", prog_name="ihc", message="%(prog)s %(version)s")
def cli():
    """Rank the diagnoses a spindle-cell tumour's IHC panel supports, and say why.

    Decision support: it says what the panel supports and how sure it is; it
    never signs out a case.

    \b
    Example:
      ihc classify "SMA(+), Des(+), CD117(-), DOG1(-), Ki-67(+,30%)" --site retroperitoneum
    """


# ----------------------------------------------------------------------- parse


@_command("parse")
def _parse_command():
    @click.command("parse", epilog=EXIT_CODES_HELP)
    @click.argument("text", nargs=-1, required=True)
    @click.option("--site", default=None, help="Free-text site, e.g. 'gastric fundus'.")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @_add(_mode_options)
    @_add(_morph_options)
    def parse_cmd(text, site, fmt, strict, lenient, **morph):
        """Read an IHC panel as reports write it and print it structured.

        \b
        Example:
          ihc parse "desmin+, SMA+, c-kit-, S-100-" --format json
          ihc parse "18 mitoses per 10 HPF and coagulative necrosis; SMA+, desmin+, CD117-" --format json
        """
        from .reading import parse

        try:
            panel = parse(_text_arg(text), site=site, mode=_mode(strict, lenient), morphology=_morphology(morph))
        except IhcError as exc:
            _fail(exc)
        if fmt == "json":
            _warn_beside_data(panel.warnings)
            _emit_json(panel.to_dict())
            return
        from .markers import info

        for name, value in panel.markers.items():
            v = f"{value:g}%" if isinstance(value, (int, float)) else value
            click.echo(f"{info(name).display:<12} {v}")
        if panel.site:
            click.echo(f"{'site':<12} {panel.site}")
        for k, v in (panel.morphology.to_dict() if panel.morphology else {}).items():
            click.echo(f"{k:<12} {_morph_word(v)}")
        if panel.unknown:
            click.echo(f"{'unknown':<12} {', '.join(panel.unknown)}")
        if panel.unparsed:
            click.echo(f"{'unparsed':<12} {' | '.join(panel.unparsed)}")
        _warn(panel.warnings)
    return parse_cmd


# --------------------------------------------------------------------- markers


@_command("markers")
def _markers_command():
    @click.command("markers", epilog=EXIT_CODES_HELP)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def markers_cmd(fmt):
        """List the marker vocabulary: canonical names, synonyms, value states.

        \b
        Example:
          ihc markers --format json
        """
        from .markers import vocabulary

        vocab = vocabulary()
        if fmt == "json":
            _emit_json([m.to_dict() for m in vocab])
            return
        for m in vocab:
            used = "not used by the model" if m.kind == "uninformative" else "/".join(m.states)
            syn = ", ".join(m.synonyms[:8]) + (" ..." if len(m.synonyms) > 8 else "")
            click.echo(f"{m.name:<12} {used:<22} {syn}")
    return markers_cmd


# -------------------------------------------------------------------- classify


def _bar(p, width, tty):
    n = int(round(p * width))
    return ("█" * n + "░" * (width - n)) if tty else ("#" * n + "." * (width - n))


def _morph_word(v):
    if isinstance(v, dict):
        return v["text"]
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:g}" if isinstance(v, float) else str(v)


def format_result(result, *, tty=False, n_dx=5, n_evidence=5):
    """The human text of a classify result."""
    d = result.to_dict()
    style = (lambda s, **kw: click.style(s, **kw)) if tty else (lambda s, **kw: s)
    top = d["differential"][0]
    lines = []
    if d["status"] == "ok":
        head = f"{top['diagnosis']}  (ok, probability {top['probability']:.2f})"
        lines.append(style(head, bold=True, fg="green"))
    elif d["status"] == "atypical":
        lines.append(style("atypical: no supported diagnosis explains this panel", bold=True, fg="red"))
    else:
        lines.append(style(f"indeterminate: no diagnosis can be named yet (leading: {top['diagnosis']} {top['probability']:.2f})",
                           bold=True, fg="yellow"))
    lines.append("")
    for row in d["differential"][:n_dx]:
        lines.append(f"  {row['diagnosis']:<38} {_bar(row['probability'], 20, tty)} {row['probability']:5.2f}")
    ev = [e for e in d["evidence"] if e["diagnosis"] == top["diagnosis"]]
    pro = [e for e in ev if e["effect"] == "for"][:n_evidence]
    con = [e for e in ev if e["effect"] == "against"][:n_evidence]
    if pro or con:
        lines.append("")
        lines.append(f"Evidence for and against {top['diagnosis']} (log-odds):")
        for e in pro:
            lines.append(style(f"  + {e['weight']:+.2f}  {e['note']}", fg="green") + (f"  [{e['source']}]" if e['source'] else ""))
        for e in con:
            lines.append(style(f"  - {e['weight']:+.2f}  {e['note']}", fg="red") + (f"  [{e['source']}]" if e['source'] else ""))
    lines.append("")
    if d["next_stains"]:
        lines.append("Next stains (expected information gain):")
        for s in d["next_stains"]:
            lines.append(f"  {s['marker']:<12} {s['expected_information_gain']:.2f} bits  {s['why']}")
    else:
        lines.append("Next stains: none needed to separate the supported diagnoses.")
    if d.get("next_findings"):
        lines.append("Morphology to state (expected information gain):")
        for f in d["next_findings"]:
            lines.append(f"  {f['finding']:<12} {f['expected_information_gain']:.2f} bits  {f['why']}")
    risk = d.get("gist_risk")
    if risk is not None:
        lines.append("")
        lines.append("GIST risk of progression:")
        if risk["afip"]:
            a = risk["afip"]
            pct = f"{a['risk_percent']:g}%" if a["risk_percent"] is not None else "no rate published"
            lines.append(f"  AFIP (Miettinen & Lasota): {a['label']} ({pct}; {a['site_column'].replace('_', '/')}, "
                         f"{a['mitoses']}, {a['size']})  [{a['source']}]")
        if risk["joensuu"]:
            j = risk["joensuu"]
            lines.append(f"  modified NIH (Joensuu): {j['category']} ({j['site']}, {j['mitoses']}, {j['size']})"
                         f"  [{j['source']}]")
        if risk["missing"]:
            lines.append("  missing: " + ", ".join(risk["missing"]))
        for n in risk["notes"]:
            lines.append(f"  note: {n}")
    if d["warnings"]:
        lines.append("")
        lines.append("Warnings:")
        for w in d["warnings"]:
            lines.append(style(f"  ! {w}", fg="yellow"))
    inp = d["input"]
    extra = []
    if inp.get("morphology"):
        extra.append("morphology read: " + "; ".join(
            f"{k} {_morph_word(v)}" for k, v in inp["morphology"].items()))
    if inp["ignored"]:
        extra.append("ignored (not used by the model): " + ", ".join(inp["ignored"]))
    if inp["unparsed"]:
        extra.append("not understood: " + " | ".join(inp["unparsed"]))
    if extra:
        lines.append("")
        lines.extend(extra)
    lines.append("")
    lines.append(f"model {d['model']['version']}  decision support only: the pathologist decides.")
    return "\n".join(lines)


@_command("classify")
def _classify_command():
    @click.command("classify", epilog=EXIT_CODES_HELP)
    @click.argument("text", nargs=-1, required=True)
    @click.option("--site", default=None, help="Free-text site ('gastric fundus', 'retroperitoneum', 'thigh'...).")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--top", default=5, show_default=True, type=click.IntRange(0, 30), help="Next stains to propose.")
    @_add(_morph_options)
    @_add(_mode_options)
    @_model_option
    def classify_cmd(text, site, fmt, top, strict, lenient, model_path, **morph):
        """Rank the diagnoses a panel supports, with evidence, next stains and warnings.

        TEXT is the panel as a report writes it (several arguments are joined; '-' reads stdin).

        \b
        Example:
          ihc classify "SMA(+), Des(+), CD34(-), CD117(-), S100(-), Ki-67(+,30%), DOG1(-)" --site retroperitoneum
          ihc classify --format json "CD117+ DOG1+ CD34+" --site stomach --size 6 --mitoses "3/50 HPF"
          ihc classify "SMA+ desmin+ CD117- S100-" --site retroperitoneum --mitoses "15/10 HPF" --necrosis
        """
        from .api import classify

        try:
            result = classify(_text_arg(text), site=site, morphology=_morphology(morph), mode=_mode(strict, lenient),
                              model=model_path, top=top)
        except IhcError as exc:
            _fail(exc)
        if fmt == "json":
            _warn_beside_data(result.warnings)
            _emit_json(result.to_dict())
        else:
            click.echo(format_result(result, tty=sys.stdout.isatty()))
    return classify_cmd


@_command("recommend")
def _recommend_command():
    @click.command("recommend", epilog=EXIT_CODES_HELP)
    @click.argument("text", nargs=-1, required=True)
    @click.option("--site", default=None, help="Free-text site.")
    @click.option("--top", default=5, show_default=True, type=click.IntRange(1, 30), help="How many stains to list.")
    @click.option("--available", default=None,
                  help="Comma-separated markers the lab has (names or synonyms); only these are proposed.")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @_add(_morph_options)
    @_add(_mode_options)
    @_model_option
    def recommend_cmd(text, site, top, available, fmt, strict, lenient, model_path, **morph):
        """Which stain to order next: the markers not yet done, by expected information gain.

        \b
        Example:
          ihc recommend "SMA+ desmin+" --site stomach --available CD117,DOG1,CD34,S100,Ki67
        """
        from .api import classify
        from .markers import canonical

        avail = None
        if available is not None:
            avail = []
            for name in [a.strip() for a in available.split(",") if a.strip()]:
                c = canonical(name)
                if c is None:
                    _fail(InputError(f"--available: unknown marker {name!r}; `ihc markers` lists the accepted names"))
                avail.append(c)
        try:
            result = classify(_text_arg(text), site=site, morphology=_morphology(morph), mode=_mode(strict, lenient),
                              model=model_path, top=top, available=avail)
        except IhcError as exc:
            _fail(exc)
        if fmt == "json":
            _warn_beside_data(result.warnings)
            _emit_json({"status": result.status, "differential": result.differential[:3],
                        "next_stains": result.next_stains,
                        **({"next_findings": result.next_findings} if result.next_findings else {})})
            return
        top_dx = result.differential[0]
        click.echo(f"status {result.status}; leading {top_dx['diagnosis']} {top_dx['probability']:.2f}")
        if not result.next_stains:
            click.echo("No further stain is needed to separate the supported diagnoses." if result.settled
                       else "No stain on offer would change the differential appreciably.")
        for s in result.next_stains:
            click.echo(f"{s['marker']:<12} {s['expected_information_gain']:.2f} bits  {s['why']}")
        for f in result.next_findings:
            click.echo(f"{f['finding']:<12} {f['expected_information_gain']:.2f} bits  {f['why']}")
        _warn(result.warnings)
    return recommend_cmd


# ------------------------------------------------------------------- diagnoses


@_command("diagnoses")
def _diagnoses_command():
    @click.command("diagnoses", epilog=EXIT_CODES_HELP)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @_model_option
    def diagnoses_cmd(fmt, model_path):
        """The supported diagnoses: a description and the typical profile from the knowledge base.

        \b
        Example:
          ihc diagnoses
        """
        from .api import diagnoses

        try:
            rows = diagnoses(model=model_path)
        except IhcError as exc:
            _fail(exc)
        if fmt == "json":
            _emit_json(rows)
            return
        for r in rows:
            click.echo(f"{r['diagnosis']}: {r['name']}")
            click.echo(f"  {r['description']}")
            click.echo("  typical: " + ", ".join(f"{p['marker']} {p['percent_positive']:.0f}%" for p in r["profile"]))
            click.echo("")
    return diagnoses_cmd


# ----------------------------------------------------------------------- train


@_command("train")
def _train_command():
    @click.command("train", epilog=EXIT_CODES_HELP)
    @click.option("--training-data", type=click.Path(file_okay=False), default=None,
                  help="Folder of the knowledge tables (default: the source tree's training_data/).")
    @click.option("--out", type=click.Path(file_okay=False), default=None,
                  help="Where to write the model (default: the source tree's models/).")
    def train_cmd(training_data, out):
        """Rebuild the model from training_data/ alone (deterministic, fixed seed).

        \b
        Example:
          ihc train
        """
        from .model import train

        try:
            card = train(training_data, out, progress=lambda m: click.echo(m, err=True))
        except IhcError as exc:
            _fail(exc)
        click.echo(f"model {card['version']} trained in {card['training']['seconds']} s; "
                   f"sha256 {card['artifact']['sha256'][:16]}...")
    return train_cmd


# -------------------------------------------------------------------- evaluate


@_command("evaluate")
def _evaluate_command():
    @click.command("evaluate", epilog=EXIT_CODES_HELP)
    @click.argument("cases", nargs=-1, required=True)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--plots", "plots_dir", type=click.Path(file_okay=False), default=None,
                  help="Write confusion_matrix.png, reliability.png and risk_coverage.png here (needs pip install .[plot]).")
    @click.option("--compare", type=click.Choice(["naive-bayes"]), default=None,
                  help="Also report the literature naive Bayes over the same tables.")
    @click.option("--from-text", is_flag=True,
                  help="Parse each case's free text (JSONL ihc_text / CSV panel) instead of its structured markers.")
    @click.option("--cases", "per_case", is_flag=True, help="Text output: also list every case with its top-1.")
    @click.option("--bootstrap", "bootstrap", type=click.IntRange(min=0), default=2000, show_default=True, metavar="N",
                  help="With --compare naive-bayes: resamples of the paired bootstrap giving the 95% interval of each "
                       "model-minus-naive-Bayes difference (fixed seed; 0: no intervals).")
    @_model_option
    def evaluate_cmd(cases, fmt, plots_dir, compare, from_text, per_case, bootstrap, model_path):
        """Accuracy and calibration on labelled real cases (JSONL or CSV with a 'diagnosis' column).

        One block per file, plus pooled held-out (and dev) blocks. Cases in
        training_data/real_cases_dev.jsonl chose the model's hyperparameters and
        ok threshold: they are reported as dev, never pooled with held-out cases.
        With --compare naive-bayes, each block ends its figures with the
        model-minus-naive-Bayes difference of top-1, top-3, ECE and Brier and a
        paired bootstrap 95% interval: an interval that includes 0 means the two
        are not distinguishable on these cases.

        \b
        Example:
          ihc evaluate training_data/real_cases_dev.jsonl training_data/real_cases_extra_a.jsonl \\
              training_data/real_cases_extra_b.jsonl --compare naive-bayes --plots plots/
        """
        from .evaluate import evaluate, format_report, plot

        try:
            if plots_dir is not None:
                from .evaluate import need_matplotlib

                need_matplotlib()
            report = evaluate(list(cases), model=model_path, compare=compare, from_text=from_text, bootstrap=bootstrap)
            written = plot(report, plots_dir) if plots_dir is not None else []
        except IhcError as exc:
            _fail(exc)
        if fmt == "json":
            if written:
                report["plots"] = written
            _emit_json(report)
        else:
            click.echo(format_report(report, per_case=per_case))
            for p in written:
                click.echo(f"wrote {p}", err=True)
    return evaluate_cmd


# ----------------------------------------------------------------------- batch


class _Progress:
    """A one-line progress bar on stderr (used only when stderr is a terminal)."""

    def __init__(self):
        self.shown = False
        self.t0 = None
        self.last = 0.0

    def __call__(self, rows, done, total):
        import time

        now = time.perf_counter()
        if self.t0 is None:
            self.t0 = now
        if not self.shown and now - self.t0 < 0.5:  # short runs stay silent
            return
        if self.shown and now - self.last < 0.2 and not (total and done >= total):
            return
        self.shown = True
        self.last = now
        rate = rows / max(now - self.t0, 1e-9)
        if total:
            frac = min(done / total, 1.0)
            bar = "#" * int(frac * 30) + "." * (30 - int(frac * 30))
            msg = f"\r[{bar}] {100 * frac:3.0f}%  {rows:,} rows  {rate:,.0f} rows/s"
        else:
            msg = f"\r{rows:,} rows  {rate:,.0f} rows/s"
        click.echo(msg, err=True, nl=False)

    def close(self):
        if self.shown:
            click.echo("", err=True)


@_command("batch")
def _batch_command():
    @click.command("batch", epilog=EXIT_CODES_HELP)
    @click.argument("input_path", metavar="INPUT")
    @click.option("-o", "--output", default="-", show_default=True,
                  help="Output file ('-' = stdout). A file appears whole or not at all (temp file, then rename).")
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
                  help="Output format (default: from the output's extension, .jsonl/.ndjson -> jsonl; else csv).")
    @click.option("--site-column", default=None, help="Column holding the tumour site (default: 'site' if present).")
    @click.option("--panel-column", default=None,
                  help="Free-text panel column (default: 'panel' if present; otherwise marker columns are read).")
    @_add(_mode_options)
    @_model_option
    def batch_cmd(input_path, output, fmt, site_column, panel_column, strict, lenient, model_path):
        """Classify every row of a CSV export: one output row per input row, in order.

        INPUT is a CSV file ('-' = stdin) with a case_id column, then either marker
        columns (canonical names or synonyms: SMA, Des, c-kit, Ki-67...) or a free-text
        panel column, and optionally a site column. Comma, semicolon or tab separated;
        UTF-8 (BOM or not), UTF-16 or cp1252/latin-1.

        CSV out: case_id,status,diagnosis,confidence,dx1,p1,dx2,p2,dx3,p3,error.
        JSON Lines out: the classify object plus case_id (`ihc schema --which batch-row`).
        A row that cannot be read is written with status "error" and the reason;
        the run goes on and exits 3. A header-only file gives a header-only output
        (exit 0); an empty file, a missing file or no usable column exit 2.

        \b
        Example:
          ihc batch cases.csv -o results.csv
          ihc batch lis_export.csv --panel-column ihc_text --site-column specimen_site -o out.jsonl
          cat cases.csv | ihc batch - --format jsonl > out.jsonl
        """
        from .batch import run_batch

        mode = _mode(strict, lenient)
        progress = _Progress() if sys.stderr.isatty() else None
        try:
            summary = run_batch(input_path, output, fmt=fmt, panel_column=panel_column, site_column=site_column,
                                mode=mode, model=model_path, progress=progress)
        except IhcError as exc:
            if progress:
                progress.close()
            _fail(exc)
        except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C, or SIGTERM (SystemExit 143 from run_batch)
            if isinstance(exc, SystemExit) and exc.code != 128 + 15:
                raise
            if progress:
                progress.close()
            where = ("the output on standard output is incomplete" if output in (None, "-")
                     else f"no output file was written ({output} is left as it was)")
            click.echo(f"ihc batch: interrupted; {where}", err=True)
            sys.exit(130 if isinstance(exc, KeyboardInterrupt) else exc.code)
        if progress:
            progress.close()
        if summary.duplicate_ids:  # row numbers only: case ids never go to stderr
            more = ", ..." if summary.duplicate_ids > len(summary.duplicate_rows) else ""
            click.echo(f"warning: {summary.duplicate_ids} row(s) repeat the case_id of an earlier row (data rows "
                       f"{', '.join(map(str, summary.duplicate_rows))}{more}); every row is written, in order",
                       err=True)
        if getattr(summary, "empty_ids", 0):
            click.echo(f"warning: {summary.empty_ids} row(s) have an empty case_id; every row is written, in order",
                       err=True)
        if summary.errors or sys.stderr.isatty():
            click.echo(f"ihc batch: {summary.rows} rows written, {summary.errors} could not be read"
                       + (" (status=error, reason in the error column)" if summary.errors else ""), err=True)
        if summary.errors:
            sys.exit(EXIT_PARTIAL)
    return batch_cmd


# ---------------------------------------------------------------------- schema


@_command("schema")
def _schema_command():
    @click.command("schema", epilog=EXIT_CODES_HELP)
    @click.option("--which", type=click.Choice(["classify", "batch-row"]), default="classify", show_default=True,
                  help="classify: the `ihc classify --format json` object; batch-row: one `ihc batch` JSON Lines row.")
    def schema_cmd(which):
        """Print the JSON schema (draft 2020-12) of the output contract, schema_version "1".

        \b
        Example:
          ihc schema --which batch-row > ihc_batch_row.schema.json
        """
        from .schema import schema_path

        try:
            text = schema_path(which).read_text(encoding="utf-8")
        except (IhcError, OSError) as exc:
            _fail(exc)
        click.echo(text.rstrip("\n"))
    return schema_cmd


# ------------------------------------------------------- hl7, fhir, serve (extra: lis)


def _read_source(path):
    """The bytes of INPUT ('-' = stdin); a missing file is an input error."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise IhcClickError(f"{path}: cannot be read ({exc.strerror or exc.__class__.__name__})") from None


def _write_records(text, records, output):
    if output in (None, "-"):
        click.echo(text, nl=False)
    else:
        try:
            with open(output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            raise IhcClickError(f"{output}: cannot be written ({exc.strerror or exc.__class__.__name__})") from None
    errors = sum(1 for r in records if r.get("status") == "error")
    if errors:  # counts only: ids and message content never go to stderr
        click.echo(f"{len(records)} result(s), {errors} could not be classified (status error, reason in the output)",
                   err=True)
        sys.exit(EXIT_PARTIAL)


@_command("hl7")
def _hl7_command():
    @click.command("hl7", epilog=EXIT_CODES_HELP)
    @click.argument("input_path", metavar="INPUT")
    @click.option("-o", "--output", default="-", show_default=True, help="Output file ('-' = stdout).")
    @click.option("--format", "fmt", type=click.Choice(["hl7", "jsonl"]), default=None,
                  help="hl7: one preliminary ORU^R01 per result; jsonl: one JSON record per result "
                       "(default: hl7 for an output ending .hl7, else jsonl).")
    @click.option("--code-map", type=click.Path(dir_okay=False), default=None,
                  help="CSV of code,target[,system]: the laboratory's observation codes -> markers (read before the "
                       "shipped LOINC map).")
    @_model_option
    def hl7_cmd(input_path, output, fmt, code_map, model_path):
        """Read HL7 v2 ORU^R01 messages with IHC results; one result per specimen, in order.

        INPUT holds one or many ER7 messages ('-' = stdin; CR, LF or CRLF segment ends, MLLP
        framing tolerated). Discrete OBX by LOINC or --code-map, then narrative TX/FT text.
        A message without IHC results is a per-message error (exit 3). Needs pip install "ihc[lis]".

        \b
        Example:
          ihc hl7 constructed_ihc_panel.hl7
          ihc hl7 feed.hl7 --code-map our_codes.csv -o results.hl7
        """
        from .lis.hl7 import run_hl7

        fmt = fmt or ("hl7" if str(output).lower().endswith(".hl7") else "jsonl")
        end = "\n" if (output in (None, "-") and sys.stdout.isatty()) else "\r"
        try:
            text, records = run_hl7(_read_source(input_path), fmt=fmt, code_map=code_map, model=model_path,
                                    segment_end=end)
        except IhcError as exc:
            _fail(exc)
        _write_records(text, records, output)
    return hl7_cmd


@_command("fhir")
def _fhir_command():
    @click.command("fhir", epilog=EXIT_CODES_HELP)
    @click.argument("input_path", metavar="INPUT")
    @click.option("-o", "--output", default="-", show_default=True, help="Output file ('-' = stdout).")
    @click.option("--format", "fmt", type=click.Choice(["fhir", "jsonl", "cds"]), default="fhir", show_default=True,
                  help="fhir: a Bundle with a preliminary DiagnosticReport; jsonl: one JSON record per case; "
                       "cds: CDS Hooks cards.")
    @click.option("--code-map", type=click.Path(dir_okay=False), default=None,
                  help="CSV of code,target[,system]: the laboratory's observation codes -> markers.")
    @_model_option
    def fhir_cmd(input_path, output, fmt, code_map, model_path):
        """Read FHIR R4 IHC Observations (a Bundle or a DiagnosticReport) and write a preliminary report.

        The output Bundle is validated with the fhir.resources R4B models. Needs pip install "ihc[lis]".

        \b
        Example:
          ihc fhir ihc_bundle.json -o differential_bundle.json
        """
        from .lis.fhir import run_fhir

        try:
            text, records = run_fhir(_read_source(input_path), fmt=fmt, code_map=code_map, model=model_path)
        except IhcError as exc:
            _fail(exc)
        _write_records(text, records, output)
    return fhir_cmd


@_command("serve")
def _serve_command():
    @click.command("serve", epilog=EXIT_CODES_HELP)
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface).")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
    @click.option("--token-file", type=click.Path(dir_okay=False), default=None,
                  help="File whose first line is a bearer token every API request must send.")
    @click.option("--max-body-mb", default=5.0, show_default=True, type=click.FloatRange(0.001, 1024),
                  help="Largest request body accepted (MB); larger is a 413.")
    @click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
                  help="Worker processes (each loads the model once).")
    @_model_option
    def serve_cmd(host, port, token_file, max_body_mb, workers, model_path):
        """HTTP service for interface engines, with a page for people at /.

        POST /v1/classify, /v1/batch, /v1/hl7, /v1/fhir; GET /v1/health, /v1/schema; API docs at
        /docs and /openapi.json. Needs pip install "ihc[lis]".

        \b
        Example:
          ihc serve --port 8000 --token-file /etc/ihc/token
          curl -s localhost:8000/v1/classify -H 'content-type: application/json' -d '{"panel": "CD117+ DOG1+", "site": "stomach"}'
        """
        from .lis.serve import serve

        try:
            serve(host=host, port=port, token_file=token_file, max_body=int(max_body_mb * 1024 * 1024), model=model_path,
                  workers=workers, log=lambda m: click.echo(m, err=True))
        except IhcError as exc:
            _fail(exc)
    return serve_cmd


# ------------------------------------------------------------------------ main


def main(argv=None):
    """Console entry point: run the CLI; an unexpected error is one line and exit 1."""
    try:
        rv = cli.main(args=argv, prog_name="ihc", standalone_mode=False)
    except SystemExit:
        raise
    except click.ClickException as exc:  # usage and input errors: one line, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):  # Ctrl-C: exit 130, not the 1 of an internal error
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:  # `ihc ... | head`: the reader left; exit as a shell would (128 + SIGPIPE)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except Exception as exc:  # a bug: no traceback for the user, but say how to get one
        if os.environ.get("IHC_DEBUG"):
            raise
        click.echo(f"internal error: {exc.__class__.__name__}: {exc}. Set IHC_DEBUG=1 for details.", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
