using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Imagic.Editing;

namespace Imagic.Quality;

/// <summary>
/// The mean scores of one method at one sweep point over one category (or <c>all</c>).
/// Rates are fractions in [0, 1]; PSNR is in dB.
/// </summary>
/// <param name="Category">A category slug (<see cref="EditSuite.Slug"/>) or <c>all</c>.</param>
/// <param name="SecondsPerCase">Mean wall-clock seconds of the method per case (all its sweep points together).</param>
public sealed record SummaryRow(string Method, string Parameter, double Value, string Category, int Cases,
    double EditSuccess, double AllPreserved, double SuccessAndPreserved, double PreservedFraction,
    double Psnr, double Ssim, double InputDistance, double InputMae, double SecondsPerCase)
{
    /// <summary>
    /// Every case of the row sampled from a kept training state (<c>--keep-trained</c>), so <see cref="SecondsPerCase"/>
    /// is stage C alone, not the method's cost.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool SecondsWithoutTraining { get; init; }

    /// <summary>World v2: mean unedited-region PSNR against the input (<see cref="EditScore.UneditedPsnr"/>), over the cases that have one.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? UneditedPsnr { get; init; }

    /// <summary>World v2: mean unedited-region SSIM against the input.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? UneditedSsim { get; init; }

    /// <summary>World v2: mean detail drift of the unedited objects (<see cref="EditScore.Detail"/>), over the cases that have one; Objects sums them.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DetailError? Detail { get; init; }
}

/// <summary>Aggregates benchmark results and writes the Markdown summary.</summary>
public static class BenchReport
{
    /// <summary>The category name of the rows that average over every case.</summary>
    public const string AllCategories = "all";

    /// <summary>
    /// Mean seconds per case over the cases that trained in their run; if none did (every one sampled from a kept state),
    /// over all of them, with <paramref name="samplingOnly"/> set.
    /// </summary>
    static double SecondsPerCase(IEnumerable<MethodCaseResult> group, out bool samplingOnly)
    {
        var trained = group.Where(r => !r.TrainingReused).ToArray();
        samplingOnly = trained.Length == 0;
        return samplingOnly ? group.Average(r => r.Seconds) : trained.Average(r => r.Seconds);
    }

    /// <summary>One row per (method, sweep point, category), plus the <c>all</c> rows; methods in the order given.</summary>
    public static IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<MethodCaseResult> results)
    {
        var rows = new List<SummaryRow>();
        foreach (var method in results.Select(r => r.Method).Distinct())
        {
            var ofMethod = results.Where(r => r.Method == method).ToArray();
            var values = ofMethod.SelectMany(r => r.Points.Select(p => p.Value)).Distinct().Order().ToArray();
            var groups = new List<(string Category, MethodCaseResult[] Results)> { (AllCategories, ofMethod) };
            groups.AddRange(EditSuite.Categories
                .Select(c => (EditSuite.Slug(c), ofMethod.Where(r => r.Category == c).ToArray()))
                .Where(g => g.Item2.Length > 0));
            foreach (var value in values)
                foreach (var (category, group) in groups)
                {
                    var scores = group.SelectMany(r => r.Points.Where(p => p.Value == value).Select(p => p.Score)).ToArray();
                    if (scores.Length == 0) continue;
                    double Mean(Func<EditScore, double> f) => scores.Average(f);
                    double Rate(Func<EditScore, bool> f) => scores.Count(f) / (double)scores.Length;
                    double? MeanOf(Func<EditScore, double?> f) =>
                        scores.Select(f).OfType<double>().ToArray() is { Length: > 0 } some ? some.Average() : null;
                    var details = scores.Select(s => s.Detail).OfType<DetailError>().ToArray();
                    rows.Add(new SummaryRow(method, ofMethod[0].Parameter, value, category, scores.Length,
                        Rate(s => s.EditSuccess), Rate(s => s.AllPreserved), Rate(s => s.SuccessAndPreserved),
                        Mean(s => s.PreservedFraction), Mean(s => s.Psnr), Mean(s => s.Ssim), Mean(s => s.InputDistance),
                        Mean(s => s.InputMae), SecondsPerCase(group, out bool samplingOnly))
                    {
                        SecondsWithoutTraining = samplingOnly,
                        UneditedPsnr = MeanOf(s => s.UneditedPsnr),
                        UneditedSsim = MeanOf(s => s.UneditedSsim),
                        Detail = details.Length == 0 ? null : new DetailError(details.Average(d => d.Position), details.Average(d => d.Size),
                            details.Average(d => d.Shade), details.Sum(d => d.Objects)),
                    });
                }
        }
        return rows;
    }

    /// <summary>
    /// Each method's sweep point with the highest overall rate of success with everything preserved
    /// (ties: the higher SSIM to the ground truth): the fairest single setting to show a method at.
    /// </summary>
    public static IReadOnlyDictionary<string, double> BestPoints(IReadOnlyList<SummaryRow> summary) =>
        summary.Where(r => r.Category == AllCategories)
            .GroupBy(r => r.Method)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(r => r.SuccessAndPreserved).ThenByDescending(r => r.Ssim).First().Value);

    /// <summary>The two fidelity axes a trade-off curve is drawn on: the paper's (closeness to the input) and the ground truth's.</summary>
    public static readonly (string Name, Func<SummaryRow, double> Fidelity)[] FidelityAxes =
    {
        ("SSIM to the input", r => 1 - r.InputDistance),
        ("SSIM to the ground truth", r => r.Ssim),
    };

    /// <summary>World v2's third axis: PSNR of the unedited region against the input (NaN where a row has none).</summary>
    public static readonly (string Name, Func<SummaryRow, double> Fidelity) UneditedAxis =
        ("unedited-region PSNR", r => r.UneditedPsnr ?? double.NaN);

    /// <summary>
    /// Imagic's success-versus-fidelity frontier against every other method's, over all categories, on
    /// each fidelity axis: the numbers behind "does Imagic's curve dominate SDEdit's, and by how much".
    /// </summary>
    public static IReadOnlyList<(string Baseline, string Axis, CurveComparison Comparison)> CompareWithImagic(IReadOnlyList<SummaryRow> summary)
    {
        var all = summary.Where(r => r.Category == AllCategories).ToArray();
        CurvePoint[] Curve(string method, Func<SummaryRow, double> fidelity) =>
            all.Where(r => r.Method == method).Select(r => new CurvePoint(fidelity(r), r.EditSuccess)).ToArray();
        var comparisons = new List<(string, string, CurveComparison)>();
        var axes = all.Length > 0 && all.All(r => r.UneditedPsnr is not null) ? [.. FidelityAxes, UneditedAxis] : FidelityAxes;
        foreach (var baseline in all.Select(r => r.Method).Distinct().Where(m => m != EditMethod.ImagicName))
            foreach (var (axis, fidelity) in axes)
                if (CurveComparison.Compare(Curve(EditMethod.ImagicName, fidelity), Curve(baseline, fidelity)) is { } c)
                    comparisons.Add((baseline, axis, c));
        return comparisons;
    }

    /// <summary>Each case's own fidelity on the axes of <see cref="FidelityAxes"/> (a row's is the mean of its cases').</summary>
    static readonly Dictionary<string, Func<EditScore, double>> CaseFidelity = new()
    {
        [FidelityAxes[0].Name] = s => 1 - s.InputDistance,
        [FidelityAxes[1].Name] = s => s.Ssim,
    };

    /// <summary>
    /// How sure the suite is of Imagic's mean gain over <paramref name="baseline"/> on <paramref name="axis"/>: the paired
    /// bootstrap of <see cref="CurveComparison.BootstrapGain"/> over the cases both methods ran, at the settings every one
    /// of those cases has. Null for an axis without per-case fidelity (the unedited region's) or fewer than 2 shared cases.
    /// </summary>
    public static (double Low, double High, double NowhereBelow)? GainInterval(IReadOnlyList<MethodCaseResult> results, string baseline, string axis)
    {
        if (!CaseFidelity.TryGetValue(axis, out var fidelity)) return null;
        Dictionary<string, MethodCaseResult> ByCase(string method) =>
            results.Where(r => r.Method == method).GroupBy(r => r.CaseId).ToDictionary(g => g.Key, g => g.Last());
        var (imagic, other) = (ByCase(EditMethod.ImagicName), ByCase(baseline));
        var ids = imagic.Keys.Where(other.ContainsKey).Order(StringComparer.Ordinal).ToArray();
        if (ids.Length < 2) return null;
        CasePoint[][] Cases(Dictionary<string, MethodCaseResult> byCase)
        {
            var values = ids.Select(id => byCase[id].Points.Select(p => p.Value)).Aggregate((a, b) => a.Intersect(b)).Order().ToArray();
            return [.. ids.Select(id => values.Select(v => byCase[id].Points.First(p => p.Value == v).Score)
                .Select(s => new CasePoint(fidelity(s), s.EditSuccess)).ToArray())];
        }
        var (m, b) = (Cases(imagic), Cases(other));
        return m[0].Length == 0 || b[0].Length == 0 ? null : CurveComparison.BootstrapGain(m, b);
    }

    /// <summary>The Markdown report: settings, an overall table per sweep point, and per-category tables.</summary>
    public static string Markdown(BenchResults bench)
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        md.AppendLine($"# Editing benchmark: {bench.Suite}, {bench.Cases.Count} cases");
        md.AppendLine();
        if (bench.Label is not null) md.AppendLine($"Run: `{bench.Label}`  ");
        md.AppendLine($"Suite fingerprint: `{bench.SuiteFingerprint}`; model: `{bench.Model}` (fingerprint `{bench.ModelFingerprint[..Math.Min(16, bench.ModelFingerprint.Length)]}`), {bench.Resolution}×{bench.Resolution} px.  ");
        var s = bench.Settings;
        string forgetPower = s.Imagic.ForgetPower != 1 ? string.Create(inv, $"^{s.Imagic.ForgetPower:G3}") : "";
        md.AppendLine(string.Create(inv,
            $"Every method: {s.SamplingSteps} DDIM steps, guidance {s.GuidanceScale} (inversion: swept), guidance rescale {s.Imagic.GuidanceRescale}, the case's own noise seed. " +
            $"Imagic: stage A {s.Imagic.EmbeddingSteps} steps × {s.Imagic.EmbeddingBatch} at lr {s.Imagic.EmbeddingLearningRate:G3}, " +
            $"stage B ({s.Imagic.FinetuneMethod.ToString().ToLowerInvariant()}{(s.Imagic.FinetuneUnconditional ? ", with the empty prompt" : "")}) " +
            $"{s.Imagic.FinetuneSteps} steps × {s.Imagic.FinetuneBatch} at lr {s.Imagic.StageBLearningRate:G3}, " +
            $"{s.Imagic.TimestepSampling.ToString().ToLowerInvariant()} timesteps, z₀ = posterior {s.Imagic.InputLatents.ToString().ToLowerInvariant()}, " +
            $"stage C from {(s.Imagic.SamplingStart == SamplingStart.Inversion ? "the input's DDIM inversion under the fine-tuned model" : "the case's noise")}" +
            $"{(s.Imagic.SamplingStart == SamplingStart.Inversion && s.Imagic.NoiseFromEta is double from ? string.Create(inv, $" below η {from:G3} and from the case's noise at and above it") : "")}" +
            $"{(s.Imagic.DdimEta != 0 ? $", DDIM η {s.Imagic.DdimEta:G3}" : "")}" +
            $"{(s.Imagic.GuidanceNegative == GuidanceNegative.Reconstruction ? ", guidance against e_opt rather than the empty prompt" : "")}" +
            $"{(s.Imagic.GuidanceRamp is double ramp ? string.Create(inv, $", guidance ramped from 1 at η = 0 to its scale at η {ramp:G3}") : "")}" +
            $"{(s.Imagic.Forget != Models.UNetHalf.None ? $", the UNet's {s.Imagic.Forget.ToString().ToLowerInvariant()} moved back toward its pretrained weights by min(η, 1){forgetPower}" : "")}" +
            $"{(s.Imagic.Mask == EditMaskMode.Auto ? ", the input's pixels kept outside the estimated edit region (mask auto)" : "")}. " +
            $"Inversion prompt: {(s.InversionPrompt == InversionPrompt.SourceCaption ? "the input's canonical caption" : "empty")}."));
        var roundTrips = bench.Cases.Where(c => c.RoundTrip is not null).Select(c => c.RoundTrip!).ToArray();
        if (roundTrips.Length > 0)
            md.AppendLine(string.Create(inv,
                $"VAE round trip of the inputs (the ceiling of reconstruction in latent space): 1 − SSIM to the input {roundTrips.Average(r => r.InputDistance):F3}, " +
                $"kept {roundTrips.Count(r => r.AllPreserved) / (double)roundTrips.Length:P0}."));
        md.AppendLine();
        md.AppendLine("Columns: **success** = the detector reads the target value of every edited attribute; **kept** = every attribute " +
            "that should not change is unchanged (other attributes, background, second object, object count); **both** = success and kept; " +
            "**kept frac** = mean fraction of unchanged attributes; **PSNR**/**SSIM** against the ground-truth edit; " +
            "**1−SSIM in** = distance from the input image; **s/case** = seconds per case for the whole sweep " +
            "(Imagic: over the cases it trained in this run; * = every case sampled from a kept training state, so stage C alone).");
        md.AppendLine();

        md.AppendLine("## All categories");
        md.AppendLine();
        md.AppendLine("| method | setting | cases | success | kept | both | kept frac | PSNR | SSIM | 1−SSIM in | s/case |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in bench.Summary.Where(r => r.Category == AllCategories))
            md.AppendLine(string.Create(inv,
                $"| {r.Method} | {Setting(r)} | {r.Cases} | {Pct(r.EditSuccess)} | {Pct(r.AllPreserved)} | **{Pct(r.SuccessAndPreserved)}** | " +
                $"{r.PreservedFraction:0.000} | {r.Psnr:0.00} | {r.Ssim:0.000} | {r.InputDistance:0.000} | {r.SecondsPerCase:0.0}{(r.SecondsWithoutTraining ? "*" : "")} |"));
        md.AppendLine();

        if (bench.Summary.Any(r => r.UneditedPsnr is not null))
        {
            md.AppendLine("## What the edit must leave alone (world v2)");
            md.AppendLine();
            md.AppendLine("**unedited PSNR / SSIM** = against the input, over the pixels outside the union of the edited object's masks in the input " +
                "and the ground truth (for a background edit: the pixels inside the objects it keeps); **detail drift** = how far the objects the " +
                "edit must not touch moved from the ground truth in unnamed detail: centre (px), size (relative) and shade (RGB distance), as the detector reads them.");
            md.AppendLine();
            md.AppendLine("| method | setting | unedited PSNR | unedited SSIM | centre drift (px) | size drift | shade drift | objects |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
            foreach (var r in bench.Summary.Where(r => r.Category == AllCategories))
                md.AppendLine(string.Create(inv,
                    $"| {r.Method} | {Setting(r)} | {r.UneditedPsnr:0.00} | {r.UneditedSsim:0.000} | {r.Detail?.Position:0.00} | " +
                    $"{r.Detail?.Size:0.000} | {r.Detail?.Shade:0.000} | {r.Detail?.Objects} |"));
            md.AppendLine();
        }

        var best = BestPoints(bench.Summary);
        var categories = EditSuite.Categories.Select(EditSuite.Slug)
            .Where(c => bench.Summary.Any(r => r.Category == c)).ToArray();
        md.AppendLine("## Each method at its best setting, by category");
        md.AppendLine();
        md.AppendLine("Best setting = highest overall **both** rate. Cells: success / kept / both.");
        md.AppendLine();
        md.AppendLine($"| method | setting | {string.Join(" | ", categories)} |");
        md.AppendLine($"|---|---|{string.Concat(categories.Select(_ => "---:|"))}");
        foreach (var (method, value) in best)
        {
            var cells = categories.Select(c => bench.Summary.FirstOrDefault(r => r.Method == method && r.Value == value && r.Category == c))
                .Select(r => r is null ? "–" : $"{Pct(r.EditSuccess)} / {Pct(r.AllPreserved)} / {Pct(r.SuccessAndPreserved)}");
            var any = bench.Summary.First(r => r.Method == method && r.Value == value);
            md.AppendLine($"| {method} | {Setting(any)} | {string.Join(" | ", cells)} |");
        }
        md.AppendLine();

        md.AppendLine("## Each method at its best setting, by number of objects in the input");
        md.AppendLine();
        md.AppendLine("A second object is one more thing an edit must leave alone. Cells: success / kept / both (cases).");
        md.AppendLine();
        md.AppendLine("| method | setting | one object | two objects |");
        md.AppendLine("|---|---|---:|---:|");
        var objectsOf = bench.Cases.ToDictionary(c => c.Id, c => c.Objects);
        foreach (var (method, value) in best)
        {
            string Cell(int objects)
            {
                var scores = bench.Results.Where(r => r.Method == method && objectsOf.GetValueOrDefault(r.CaseId, 1) == objects)
                    .SelectMany(r => r.Points.Where(p => p.Value == value).Select(p => p.Score)).ToArray();
                double Rate(Func<EditScore, bool> f) => scores.Count(f) / (double)scores.Length;
                return scores.Length == 0 ? "–"
                    : $"{Pct(Rate(x => x.EditSuccess))} / {Pct(Rate(x => x.AllPreserved))} / {Pct(Rate(x => x.SuccessAndPreserved))} ({scores.Length})";
            }
            var any = bench.Summary.First(r => r.Method == method && r.Value == value);
            md.AppendLine($"| {method} | {Setting(any)} | {Cell(1)} | {Cell(2)} |");
        }
        md.AppendLine();

        var comparisons = CompareWithImagic(bench.Summary);
        if (comparisons.Count > 0)
        {
            md.AppendLine("## Imagic's curve against each baseline's");
            md.AppendLine();
            md.AppendLine("Frontier F(x) = the best edit success among a method's settings whose fidelity is at least x. **gain** = Imagic's " +
                "frontier minus the baseline's, in percentage points, averaged over the fidelity range both methods reach; **above / below** = " +
                "share of that range where Imagic's frontier is higher / lower. Imagic **dominates** when it is nowhere below. " +
                "**95 % interval**: of the mean gain, from a paired bootstrap over the cases (2000 draws of the cases with replacement, " +
                "the same draw for both methods); in brackets after *dominates*, the share of draws in which Imagic is nowhere below. " +
                "An interval across 0 means this suite cannot tell the two curves apart.");
            md.AppendLine();
            md.AppendLine("| baseline | fidelity axis | range | mean gain | 95 % interval | max gain | max shortfall | above / below | dominates |");
            md.AppendLine("|---|---|---|---:|---|---:|---:|---|---|");
            foreach (var (baseline, axis, c) in comparisons)
            {
                var interval = GainInterval(bench.Results, baseline, axis);
                string range = interval is var (low, high, _) ? string.Create(inv, $"{100 * low:+0.0;-0.0;0.0} to {100 * high:+0.0;-0.0;0.0}") : "–";
                string draws = interval is var (_, _, nowhere) ? $" ({Pct(nowhere)})" : "";
                md.AppendLine(string.Create(inv,
                    $"| {baseline} | {axis} | {c.From:0.000}–{c.To:0.000} | {100 * c.MeanGain:+0.0;-0.0;0.0} | {range} | {100 * c.MaxGain:0.0} | " +
                    $"{100 * c.MaxLoss:0.0} | {Pct(c.AboveShare)} / {Pct(c.BelowShare)} | {(c.Dominates ? "yes" : "no")}{draws} |"));
            }
            md.AppendLine();
        }

        md.AppendLine("## Every setting, by category");
        foreach (var method in bench.Methods.Where(m => bench.Summary.Any(r => r.Method == m)))
        {
            md.AppendLine();
            md.AppendLine($"### {method}");
            md.AppendLine();
            md.AppendLine("Cells: success / kept / both.");
            md.AppendLine();
            md.AppendLine($"| setting | {string.Join(" | ", categories)} |");
            md.AppendLine($"|---|{string.Concat(categories.Select(_ => "---:|"))}");
            foreach (var value in bench.Summary.Where(r => r.Method == method).Select(r => r.Value).Distinct())
            {
                var cells = categories.Select(c => bench.Summary.FirstOrDefault(r => r.Method == method && r.Value == value && r.Category == c))
                    .Select(r => r is null ? "–" : $"{Pct(r.EditSuccess)} / {Pct(r.AllPreserved)} / {Pct(r.SuccessAndPreserved)}");
                var any = bench.Summary.First(r => r.Method == method && r.Value == value);
                md.AppendLine($"| {Setting(any)} | {string.Join(" | ", cells)} |");
            }
        }

        md.AppendLine();
        md.AppendLine("## Cases");
        md.AppendLine();
        md.AppendLine("<details><summary>Every case: edits and target text (images in <code>cases/&lt;id&gt;/</code>)</summary>");
        md.AppendLine();
        md.AppendLine("| case | edits | target text |");
        md.AppendLine("|---|---|---|");
        foreach (var c in bench.Cases)
            md.AppendLine($"| {c.Id} | {string.Join(", ", c.Edits)} | {c.TargetText} |");
        md.AppendLine();
        md.AppendLine("</details>");
        return md.ToString();
    }

    /// <summary>"η=0.7", "strength=0.6", "guidance=7.5".</summary>
    public static string Setting(string parameter, double value) =>
        string.Create(CultureInfo.InvariantCulture, $"{(parameter == "eta" ? "η" : parameter)}={value:0.0#}");

    static string Setting(SummaryRow r) => Setting(r.Parameter, r.Value);

    static string Pct(double rate) => string.Create(CultureInfo.InvariantCulture, $"{100 * rate:0}%");
}
