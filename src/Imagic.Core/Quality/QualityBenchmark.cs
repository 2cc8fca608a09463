using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Imagic.Editing;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Pipelines;
using Imagic.World;
using TorchSharp;

namespace Imagic.Quality;

/// <summary>One sweep point of one method on one case.</summary>
/// <param name="Value">The swept parameter's value.</param>
/// <param name="Image">The output PNG, relative to the benchmark folder.</param>
public sealed record PointResult(double Value, string Image, EditScore Score);

/// <summary>One method's outputs and scores on one case; also the per-case cache file.</summary>
/// <param name="SettingsKey">Hash of everything the outputs depend on (model, case, method settings, resolution); a cached result is reused only if it matches.</param>
/// <param name="Seconds">Wall-clock time of the method on this case (training included), as measured when it ran.</param>
/// <param name="TrainingReused">Imagic sampled from a state kept by an earlier run (<c>--keep-trained</c>): <see cref="Seconds"/> is then stage C alone.</param>
public sealed record MethodCaseResult(string Method, string Parameter, string CaseId, EditCategory Category,
    string SettingsKey, double Seconds, IReadOnlyList<PointResult> Points,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool TrainingReused = false);

/// <summary>A case as the report lists it.</summary>
/// <param name="Objects">Objects in the input scene (1 or 2): a second object is one more thing to keep.</param>
/// <param name="RoundTrip">The input's VAE round trip (decode of the posterior mean) scored as an output of the case: the
/// ceiling of how close any latent-space method, Imagic at η = 0 included, can come to the input. Null in old results.</param>
public sealed record CaseInfo(string Id, EditCategory Category, long Seed, string SourceText, string TargetText,
    IReadOnlyList<string> Edits, string Input, string GroundTruth, int Objects = 1, EditScore? RoundTrip = null);

/// <summary>What <see cref="QualityBenchmark.Run"/> is asked to do.</summary>
/// <param name="Methods">Method names in report order (see <see cref="EditMethod.AllNames"/>).</param>
/// <param name="OutDir">The benchmark folder: results, reports, and a <c>cases/</c> cache that makes a rerun resume.</param>
/// <param name="Label">How the run is described in reports, e.g. the command line. Default none.</param>
/// <param name="KeepTrained">Keep each case's trained Imagic state (e_opt and the fine-tuned UNet) in its case folder,
/// so that a rerun changing only stage C samples without training again. Costs one UNet's weights of disk per case.</param>
public sealed record BenchRequest(EditSuite Suite, IReadOnlyList<string> Methods, BenchSettings Settings, string OutDir,
    string? Label = null, bool KeepTrained = false);

/// <summary>Everything a benchmark run produced: written as <c>results.json</c>.</summary>
public sealed record BenchResults(string Suite, string SuiteFingerprint, string? Label, string Model, string ModelFingerprint,
    int Resolution, BenchSettings Settings, IReadOnlyList<string> Methods, IReadOnlyList<CaseInfo> Cases,
    IReadOnlyList<MethodCaseResult> Results, IReadOnlyList<SummaryRow> Summary)
{
    public string ToJson() => JsonSerializer.Serialize(this, BenchSettings.Json);

    public static BenchResults FromJson(string json) =>
        JsonSerializer.Deserialize<BenchResults>(json, BenchSettings.Json) ?? throw new ImagicException("results.json is empty.");
}

/// <summary>The files a benchmark run wrote.</summary>
/// <param name="UneditedChartPath">World v2 only: <c>chart-unedited.png</c>, edit success against the unedited region's PSNR; null otherwise.</param>
public sealed record BenchOutputs(BenchResults Results, string ResultsPath, string SummaryPath, string ChartPath,
    string InputChartPath, string ExamplesPath, string? UneditedChartPath = null);

/// <summary>
/// Runs editing methods over an <see cref="EditSuite"/> in one pipeline, scores every output with
/// <see cref="EditMetrics"/>, and writes <c>results.json</c>, <c>summary.md</c>, <c>chart.png</c>,
/// <c>chart-input.png</c>, <c>examples.png</c> and, for a world-v2 suite, <c>chart-unedited.png</c>.
/// </summary>
/// <remarks>
/// Each (case, method) is cached in <c>cases/&lt;id&gt;/&lt;method&gt;.json</c> beside its PNGs, keyed by a
/// hash of everything its outputs depend on; a rerun into the same folder skips what is done, so an
/// interrupted multi-hour run resumes where it stopped and adding a method reuses the others.
/// </remarks>
public static class QualityBenchmark
{
    /// <summary>
    /// Bump when a method's or a metric's code changes what it produces, so old cached results are recomputed.
    /// (Not the assembly version: that changes with every commit and would throw hours of results away.)
    /// </summary>
    public const int CacheVersion = 2;

    /// <summary>Runs (or resumes) the benchmark and writes its reports.</summary>
    /// <param name="log">Called with one line per (case, method) done, e.g. for a console.</param>
    public static BenchOutputs Run(StableDiffusionPipeline pipe, BenchRequest request, IProgress<StepProgress>? progress = null,
        CancellationToken cancellation = default, Action<string>? log = null)
    {
        // 1. check inputs
        request.Settings.Validate();
        if (request.Methods.Count == 0)
            throw new ImagicException("Choose at least one method.");
        var unknown = request.Methods.Except(EditMethod.AllNames).ToArray();
        if (unknown.Length > 0)
            throw new ImagicException($"Unknown method(s) {string.Join(", ", unknown)}; choose from {string.Join(", ", EditMethod.AllNames)}.");
        int resolution = pipe.DefaultResolution;
        string modelFingerprint = Directory.Exists(pipe.ModelDir) ? ModelFingerprint.Compute(pipe.ModelDir) : "in-memory";
        string outDir = Path.GetFullPath(request.OutDir);
        Directory.CreateDirectory(Path.Combine(outDir, "cases"));

        // 2. every method on every case, reusing cached results
        var methods = new List<EditMethod>();
        var results = new List<MethodCaseResult>();
        var cases = new List<CaseInfo>();
        try
        {
            foreach (var name in request.Methods)
                methods.Add(EditMethod.Create(name, pipe, request.Settings));
            var suiteCases = request.Suite.Cases;
            for (int i = 0; i < suiteCases.Count; i++)
            {
                var editCase = suiteCases[i];
                cases.Add(RunCase(pipe, editCase, methods, resolution, modelFingerprint, outDir, request.KeepTrained, results, progress, cancellation, log));
                progress?.Report(new StepProgress("benchmark cases", i + 1, suiteCases.Count));
            }
        }
        finally
        {
            foreach (var m in methods) m.Dispose();
        }

        // 3. reports
        var summary = BenchReport.Summarize(results);
        var bench = new BenchResults(request.Suite.Version, request.Suite.Fingerprint, request.Label, pipe.ModelDir, modelFingerprint,
            resolution, request.Settings, request.Methods, cases, results, summary);
        string resultsPath = Path.Combine(outDir, "results.json");
        AtomicFile.WriteAllText(resultsPath, bench.ToJson());
        string summaryPath = Path.Combine(outDir, "summary.md");
        AtomicFile.WriteAllText(summaryPath, BenchReport.Markdown(bench));
        string chartPath = Path.Combine(outDir, "chart.png");
        ImageIO.SavePng(QualityChart.Draw(bench, QualityChart.Axis.SsimToGroundTruth), chartPath);
        string inputChartPath = Path.Combine(outDir, "chart-input.png");
        ImageIO.SavePng(QualityChart.Draw(bench, QualityChart.Axis.SimilarityToInput), inputChartPath);
        string examplesPath = Path.Combine(outDir, "examples.png");
        ImageIO.SavePng(QualityChart.Examples(bench, outDir), examplesPath);
        string? uneditedChartPath = null;
        if (summary.Any(r => r.UneditedPsnr is not null))
        {
            uneditedChartPath = Path.Combine(outDir, "chart-unedited.png");
            ImageIO.SavePng(QualityChart.Draw(bench, QualityChart.Axis.UneditedRegion), uneditedChartPath);
        }
        return new BenchOutputs(bench, resultsPath, summaryPath, chartPath, inputChartPath, examplesPath, uneditedChartPath);
    }

    static CaseInfo RunCase(StableDiffusionPipeline pipe, EditCase editCase, IReadOnlyList<EditMethod> methods, int resolution,
        string modelFingerprint, string outDir, bool keepTrained, List<MethodCaseResult> results, IProgress<StepProgress>? progress,
        CancellationToken cancellation, Action<string>? log)
    {
        string caseDir = Path.Combine(outDir, "cases", editCase.Id);
        Directory.CreateDirectory(caseDir);
        // Scored as 8-bit images, like the outputs, so that a perfect output scores exactly like the ground truth.
        var input = editCase.Input(resolution).ToImage();
        var groundTruth = editCase.GroundTruth(resolution).ToImage();
        var info = new CaseInfo(editCase.Id, editCase.Category, editCase.Seed, editCase.SourceText, editCase.TargetText,
            editCase.Edits.Select(e => e.ToString()).ToArray(), Relative(outDir, Path.Combine(caseDir, "input.png")),
            Relative(outDir, Path.Combine(caseDir, "ground-truth.png")), editCase.Source.Objects.Count);
        ImageIO.SavePng(input, Path.Combine(outDir, info.Input));
        ImageIO.SavePng(groundTruth, Path.Combine(outDir, info.GroundTruth));
        var inputScene = SceneImage.From(input);
        var truthScene = SceneImage.From(groundTruth);

        using var scope = torch.NewDisposeScope();
        var image = ImageTensors.ToTensor(input);
        RgbImage roundTrip;
        using (torch.no_grad())
        using (var latents = pipe.EncodeImage(image))
        using (var decoded = pipe.DecodeLatents(latents))
            roundTrip = ImageTensors.ToImage(decoded);
        info = info with { RoundTrip = EditMetrics.Measure(editCase, SceneImage.From(roundTrip), inputScene, truthScene) };
        var noise = EditMethod.CaseNoise(pipe, editCase, resolution);
        foreach (var method in methods)
        {
            cancellation.ThrowIfCancellationRequested();
            string key = SettingsKey(editCase, method, modelFingerprint, resolution);
            string cachePath = Path.Combine(caseDir, method.Name + ".json");
            if (TryLoad(cachePath, key) is { } cached)
            {
                results.Add(cached);
                log?.Invoke($"{editCase.Id} {method.Name}: cached");
                continue;
            }
            var clock = Stopwatch.StartNew();
            TrainedStateFile? trained = keepTrained && method is ImagicMethod imagic
                ? new TrainedStateFile(Path.Combine(caseDir, "imagic-trained.safetensors"),
                    Hash(modelFingerprint, editCase.Describe(), imagic.TrainingSettingsJson, resolution.ToString(CultureInfo.InvariantCulture),
                        CacheVersion.ToString(CultureInfo.InvariantCulture)))
                : null;
            var outputs = method.Edit(editCase, image, noise, progress, cancellation, trained);
            double seconds = clock.Elapsed.TotalSeconds;
            var points = new List<PointResult>();
            foreach (var output in outputs)
            {
                string file = Path.Combine(caseDir, string.Create(CultureInfo.InvariantCulture, $"{method.Name}-{method.Parameter}-{output.Value:0.0#}.png"));
                ImageIO.SavePng(output.Image, file);
                var score = EditMetrics.Measure(editCase, SceneImage.From(output.Image), inputScene, truthScene);
                points.Add(new PointResult(output.Value, Relative(outDir, file), score));
            }
            var result = new MethodCaseResult(method.Name, method.Parameter, editCase.Id, editCase.Category, key, seconds, points,
                method is ImagicMethod { ReusedTraining: true });
            AtomicFile.WriteAllText(cachePath, JsonSerializer.Serialize(result, BenchSettings.Json));
            results.Add(result);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"{editCase.Id} {method.Name}: {seconds:F1}s, success at {points.Count(p => p.Score.EditSuccess)}/{points.Count} points"));
        }
        return info;
    }

    static MethodCaseResult? TryLoad(string path, string key)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var cached = JsonSerializer.Deserialize<MethodCaseResult>(File.ReadAllText(path), BenchSettings.Json);
            return cached?.SettingsKey == key ? cached : null;
        }
        catch (JsonException)
        {
            return null; // a damaged cache entry is recomputed, not trusted
        }
    }

    /// <summary>Hash of the model, the case, the method's settings and the resolution: what a cached result must match.</summary>
    static string SettingsKey(EditCase editCase, EditMethod method, string modelFingerprint, int resolution)
    {
        return Hash(modelFingerprint, editCase.Describe(), method.Name, method.SettingsJson,
            resolution.ToString(CultureInfo.InvariantCulture), CacheVersion.ToString(CultureInfo.InvariantCulture));
    }

    static string Hash(params string[] parts) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts))))[..16].ToLowerInvariant();

    static string Relative(string outDir, string path) => Path.GetRelativePath(outDir, path).Replace('\\', '/');
}
