using System.CommandLine;
using Imagic.Editing;
using Imagic.Pipelines;
using Imagic.Quality;
using Spectre.Console;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic bench</c>: the editing-quality benchmark (Imagic against SDEdit, DDIM inversion and text-to-image).</summary>
internal static class BenchCommand
{
    /// <summary>Cases per category of <c>--quick</c>: 2, so 14 cases.</summary>
    public const int QuickCasesPerCategory = 2;

    public static Command Create()
    {
        var suite = new Option<string>("--suite")
        {
            Description = $"The benchmark suite: 'shapes' ({EditSuite.ShapesVersion}) or '{EditSuite.ShapesV2Version}' (world v2 at 64 px, TEdBench-style texts).",
            DefaultValueFactory = _ => "shapes",
        };
        suite.AcceptOnlyFromAmong([.. EditSuite.Names]);
        var quick = new Option<bool>("--quick")
        {
            Description = $"A short run: {QuickCasesPerCategory} cases per category, at most 20 sampling steps, 3 SDEdit strengths, " +
                $"3 inversion guidance scales, and Imagic stages A and B capped at {BenchSettings.QuickMaxTrainingSteps} steps each.",
        };
        var methods = new Option<string>("--methods")
        {
            Description = $"Comma-separated methods to run, from {string.Join(",", EditMethod.AllNames)}.",
            DefaultValueFactory = _ => string.Join(",", EditMethod.AllNames),
        };
        var cases = new Option<int?>("--cases", "-n")
        {
            Description = $"Run only the first N cases (still balanced over the categories). Default: all {EditSuite.DefaultCasesPerCategory * EditSuite.Categories.Count}, or {QuickCasesPerCategory * EditSuite.Categories.Count} with --quick.",
        };
        var caseIds = new Option<string?>("--case-ids")
        {
            Description = "Comma-separated case ids to run, e.g. 021-color,035-color (the folders under cases/): to re-run the cases " +
                "a full run got wrong, or to try Imagic settings on some of them. Taken from the cases --cases chose.",
            HelpName = "ids",
        };
        var shard = new Option<string?>("--shard")
        {
            Description = "K/N: run only every N-th of the chosen cases, starting at the K-th, so that N processes (or machines) sharing " +
                "--out split one run; then rerun without --shard to gather every case into one report. " +
                "On 2 cores, two shards with --threads 1 each finish a full run about 1.4× sooner than one process.",
        };
        var output = new Option<string>("--out", "-o")
        {
            Description = "Benchmark folder. Rerunning into the same folder resumes: finished (case, method) pairs are reused.",
            DefaultValueFactory = _ => "bench-results",
        };
        var steps = new Option<int?>("--steps") { Description = "DDIM steps of every method (default: the model's Imagic default; at most 20 with --quick)." };
        // Imagic's settings overlay the model's defaults as in 'imagic edit', with the benchmark's own descriptions.
        var overrides = new ImagicOverrides();
        overrides.EmbeddingSteps.Description = "Imagic stage A steps (default: the model's Imagic default, at most 200 with --quick).";
        overrides.FinetuneSteps.Description = "Imagic stage B steps (default: the model's Imagic default, at most 200 with --quick).";
        overrides.EmbeddingLr.Description = "Imagic stage A learning rate (default: the model's Imagic default).";
        overrides.FinetuneLr.Description = "Imagic stage B learning rate (default: the model's Imagic default).";
        var guidance = new Option<double?>("--guidance")
        {
            Description = "Classifier-free guidance scale of Imagic, SDEdit and text-to-image (default: the model's Imagic default; the inversion baseline sweeps its own).",
        };
        overrides.GuidanceRescale.Description = "Guidance rescale φ in [0, 1] of every method (default: the model's Imagic default).";
        var recipe = CommonOptions.Recipe("Imagic's named settings: 'paper' or 'fast' (see imagic edit --help). Default: the model's own defaults.");
        var imagicOptions = new Option<FileInfo?>("--imagic-options")
        {
            Description = "A JSON file of Imagic settings (the keys of imagic_defaults.json, e.g. {\"finetune_batch\": 4}) laid over the " +
                "model's defaults before the other options: to try a candidate set of defaults on a subset.",
        };
        var etas = new Option<string?>("--etas")
        {
            Description = "Imagic's η values, comma-separated, e.g. 0,0.3,0.5,0.7,0.9 (default: 0 to 1.2 in steps of 0.1, of 0.05 from 0.6 to 1, and of 0.01 from 0.9 to 0.95: 21 values).",
        };
        var strengths = new Option<string?>("--strengths")
        {
            Description = "SDEdit's strengths, comma-separated, in (0, 1] (default: 0.2 to 0.9 in steps of 0.1).",
        };
        var inversionGuidance = new Option<string?>("--inversion-guidance")
        {
            Description = "The guidance scales the DDIM-inversion baseline is swept over, comma-separated, each ≥ 1 (default: 1 to 3 in steps of 0.25, then 3.5,4,5,7.5: 13 values). " +
                "Give every method a sweep as dense as Imagic's --etas where their curves are compared: a frontier sampled at fewer " +
                "points is a coarser staircase.",
        };
        var keepTrained = new Option<bool>("--keep-trained")
        {
            Description = "Keep each case's trained Imagic state (e_opt and the fine-tuned UNet, one UNet of disk per case) in the " +
                "folder, so that a rerun that changes only stage C (--etas, --guidance, --steps, guidance rescale, DDIM η) samples without training again.",
        };
        var threads = CommonOptions.Threads();
        var inversionPrompt = new Option<string>("--inversion-prompt")
        {
            Description = "What the DDIM-inversion baseline inverts the input with: 'source' (its true caption, the baseline's best case) or 'empty'.",
            DefaultValueFactory = _ => "source",
        };
        inversionPrompt.AcceptOnlyFromAmong("source", "empty");
        var command = new Command("bench",
            "Measure editing quality on a suite of edits with ground truth: Imagic (swept over η) against SDEdit (over strength), " +
            "DDIM inversion (over guidance) and plain text-to-image, all with the same model, seeds and sampler steps. " +
            "Writes results.json, summary.md, chart.png (edit success vs fidelity), chart-input.png and examples.png.\n" +
            "Examples:\n  imagic bench --suite shapes --quick\n  imagic bench --suite shapes --out bench-results  (hours; resumable)\n" +
            "  imagic bench --methods imagic --cases 14 --finetune-lr 3e-6 --out tune-b  (try Imagic settings on a subset)")
        {
            suite, quick, methods, cases, caseIds, shard, output, steps, overrides.EmbeddingSteps, overrides.FinetuneSteps, overrides.EmbeddingLr,
            overrides.FinetuneLr, guidance, overrides.GuidanceRescale, recipe, imagicOptions, etas, strengths, inversionGuidance, keepTrained, inversionPrompt, threads,
        };
        var loading = ModelLoadOptions.AddTo(command);
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            CommonOptions.ApplyThreads(result, threads);
            bool isQuick = result.GetValue(quick);
            var names = result.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var editSuite = EditSuite.Named(result.GetValue(suite)!);
            int caseCount = result.GetValue(cases) ?? (isQuick ? QuickCasesPerCategory * EditSuite.Categories.Count : editSuite.Cases.Count);
            if (caseCount < 1)
                throw new ImagicException($"--cases must be at least 1, got {caseCount}.");
            editSuite = editSuite.Take(caseCount);
            if (result.GetValue(caseIds) is { } idList)
                editSuite = editSuite.Only(idList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            if (result.GetValue(shard) is { } shardText)
            {
                var (k, n) = ParseShard(shardText);
                editSuite = editSuite.Shard(k, n);
            }

            string modelDir = loading.ModelDir(result);
            var settings = BenchSettings.ForModel(modelDir, result.GetValue(recipe));
            if (result.GetValue(imagicOptions) is { } overlay)
                settings = settings with { Imagic = settings.Imagic.Overlay(overlay.FullName) };
            if (isQuick) settings = settings.Quick();
            if (result.GetValue(steps) is int s) settings = settings with { SamplingSteps = s };
            if (result.GetValue(guidance) is double g) settings = settings with { GuidanceScale = g };
            Action<string> warn = m => Console.Error.WriteLine($"warning: {m}");
            if (result.GetValue(etas) is { } etaList) settings = settings with { Etas = [.. OptionChecks.ParseEtas(etaList, warn, "--etas")] };
            if (result.GetValue(strengths) is { } strengthList)
                settings = settings with { Strengths = [.. OptionChecks.ParseNumbers(strengthList, warn, "--strengths", "an SDEdit strength", 0, 1, "0.4,0.6,0.8")] };
            if (result.GetValue(inversionGuidance) is { } guidanceList)
                settings = settings with { InversionGuidance = [.. OptionChecks.ParseNumbers(guidanceList, warn, "--inversion-guidance", "a guidance scale", 1, 50, "1,1.5,2,3")] };
            settings = settings with
            {
                InversionPrompt = result.GetValue(inversionPrompt) == "empty" ? InversionPrompt.Empty : InversionPrompt.SourceCaption,
                Imagic = overrides.ApplyTo(result, settings.Imagic, warn),
            };
            string outDir = result.GetValue(output)!;
            string label = "imagic " + string.Join(' ', result.Tokens.Select(t => t.Value.Contains(' ') ? $"\"{t.Value}\"" : t.Value));
            settings.Validate();
            OptionChecks.CheckOutputFolder(outDir, "--out");

            using var pipe = StableDiffusionPipeline.Load(modelDir, loading.Read(result));
            pipe.Warn = m => Console.Error.WriteLine($"warning: {m}");
            pipe.CheckSamplingOptions(new SamplingOptions
            {
                Steps = settings.SamplingSteps, GuidanceScale = settings.GuidanceScale, GuidanceRescale = settings.Imagic.GuidanceRescale,
            });
            if (editSuite.World == World.WorldVersion.V2 && pipe.DefaultResolution != EditSuite.V2Resolution)
                Console.Error.WriteLine($"warning: {editSuite.Version} is made for {EditSuite.V2Resolution} px; this model draws {pipe.DefaultResolution} px, " +
                    "where the unnamed detail is barely visible.");
            Console.WriteLine($"Benchmark {editSuite.Version} ({editSuite.Cases.Count} cases, fingerprint {editSuite.Fingerprint}) " +
                $"on {modelDir}: {string.Join(", ", names)}; {settings.SamplingSteps} sampling steps.");
            Console.WriteLine($"Folder: {Path.GetFullPath(outDir)}");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            BenchOutputs outputs;
            try
            {
                outputs = ConsoleProgress.Run("bench", progress => QualityBenchmark.Run(pipe,
                    new BenchRequest(editSuite, names, settings, outDir, label, result.GetValue(keepTrained)), progress, ctrlC.Token, Log));
            }
            catch (OperationCanceledException e)
            {
                Console.Error.WriteLine($"Interrupted. Finished cases are kept in {Path.GetFullPath(outDir)}; run the same command again to resume.");
                throw new ExplainedCancellation(e);
            }
            Console.WriteLine($"Done in {clock.Elapsed.TotalMinutes:F1} min.");
            var roundTrips = outputs.Results.Cases.Select(c => c.RoundTrip!).ToArray();
            Console.WriteLine($"  VAE round trip of the inputs: kept {roundTrips.Count(r => r.AllPreserved) / (double)roundTrips.Length,4:P0}  " +
                $"1-SSIM to input {roundTrips.Average(r => r.InputDistance):F3}");
            foreach (var row in outputs.Results.Summary.Where(r => r.Category == BenchReport.AllCategories))
                Console.WriteLine($"  {row.Method,-9} {BenchReport.Setting(row.Parameter, row.Value),-14} success {row.EditSuccess,4:P0}  " +
                    $"kept {row.AllPreserved,4:P0}  both {row.SuccessAndPreserved,4:P0}  PSNR {row.Psnr,5:F1}  SSIM {row.Ssim:F3}  1-SSIM to input {row.InputDistance:F3}");
            Console.WriteLine($"  {outputs.ResultsPath}\n  {outputs.SummaryPath}\n  {outputs.ChartPath}\n  {outputs.InputChartPath}\n  {outputs.ExamplesPath}");
            if (outputs.UneditedChartPath is not null)
                Console.WriteLine($"  {outputs.UneditedChartPath}");
            return 0;
        });
        return command;
    }

    /// <summary>Parses <c>--shard K/N</c>; a one-line error names the expected form.</summary>
    internal static (int Index, int Count) ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n)
            || n < 1 || k < 1 || k > n)
            throw new ImagicException($"--shard must be K/N with 1 ≤ K ≤ N, e.g. 1/2; got '{text}'.");
        return (k, n);
    }

    // Under a live Spectre progress display, plain console writes would tear the bars; Spectre's own writer does not.
    static void Log(string line)
    {
        if (Console.IsErrorRedirected || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            Console.Error.WriteLine(line);
        else
            AnsiConsole.WriteLine(line);
    }
}
