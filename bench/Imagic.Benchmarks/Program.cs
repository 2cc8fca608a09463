using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Imagic;
using Imagic.Benchmarks;
using Imagic.IO;
using TorchSharp;

// Benchmarks of the Imagic stages (docs/performance.md and docs/memory.md); --help lists the modes.
var measure = new Option<string>("--measure")
{
    Description = "What to measure: 'speed', 'stage-b-memory', 'sd15', 'sd15-edit' or 'sampling-memory'; see the modes above.",
    DefaultValueFactory = _ => "speed",
};
measure.AcceptOnlyFromAmong("speed", "stage-b-memory", "sd15", "sd15-edit", "sampling-memory");
var model = new Option<string?>("--model")
{
    Description = "A folder with unet/config.json (and optionally scheduler/scheduler_config.json); the UNet is built from it with " +
        "random weights. Default ../shared/bench/sd-mini. Not used by sd15. sampling-memory: a diffusers folder, or bench/configs for a " +
        "full-size SD 1.5 with random weights (required).",
};
var height = PositiveInteger("--height", "sampling-memory: image height in pixels. Default 512.");
var width = PositiveInteger("--width", "sampling-memory: image width in pixels. Default 512.");
var latentSize = PositiveInteger("--latent-size", "Latent side: 32 for 256 px, 64 for SD 1.5's 512 px. Default 32; sd15: 64.");
var threads = PositiveInteger("--threads", "CPU threads. Default 2.");
var option = new Option<string>("--option")
{
    Description = "stage-b-memory: which stage B configuration to run.",
    DefaultValueFactory = _ => "full",
};
option.AcceptOnlyFromAmong([.. StageBMemoryBenchmark.Options]);
var steps = PositiveInteger("--steps", "stage-b-memory: stage B steps (default 2). sd15: guided DDIM steps of the generate and of stage C (default 6). " +
    "sd15-edit: timed repetitions of each phase after one warm-up (default 3).");
var memoryBudget = new Option<double?>("--memory-budget")
{
    Description = "sd15-edit: GB a stage B variant may need (weights, gradients and Adam moments); larger ones are skipped. " +
        "Default: this process's resident memory plus what the machine has available.",
    CustomParser = r =>
    {
        string text = r.Tokens[0].Value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && double.IsFinite(value))
            return value;
        r.AddError($"--memory-budget must be a positive number of GB (got '{text}').");
        return null;
    },
};
var allowLarge = new Option<bool>("--allow-large") { Description = "sd15-edit: run every stage B variant, whatever memory it needs." };
var phases = new Option<string>("--phases")
{
    Description = $"sd15: comma-separated phases to run after loading, from {string.Join(",", Sd15Benchmark.PhaseNames)}.",
    DefaultValueFactory = _ => string.Join(",", Sd15Benchmark.PhaseNames),
};
var configs = new Option<string>("--configs")
{
    Description = "sd15: the folder holding sd15-unet/, sd15-vae/ and sd15-text-encoder/.",
    DefaultValueFactory = _ => "bench/configs",
};
var tokenizer = new Option<string>("--tokenizer")
{
    Description = "sd15: a CLIP tokenizer folder (vocab.json, merges.txt). The bundled model's is CLIP's.",
    DefaultValueFactory = _ => "models/shapes/tokenizer",
};
var folder = new Option<string?>("--folder")
{
    Description = "sd15: load the pipeline from this diffusers folder, as 'imagic generate --model' does (float16 files into float32), " +
        "instead of building random weights in memory; a folder that does not exist yet is first written there from the random " +
        "pipeline with float16 weights (about 2 GB).",
};
var attentionCore = new Option<string>("--attention-core")
{
    Description = "speed: the attention core. 'sdpa' (default): libtorch's fused attention, what the tool runs; 'linear': a " +
        "stand-in of linear cost that keeps every gradient path, a bound on what any faster attention kernel could give.",
    DefaultValueFactory = _ => "sdpa",
};
attentionCore.AcceptOnlyFromAmong([.. SpeedBenchmark.AttentionCores]);
var output = new Option<string?>("--out") { Description = "Also write the report as JSON to this file." };

var root = new RootCommand(
    "Benchmarks of Imagic's stages on random weights (weights do not change a step's time or memory). Modes:\n" +
    "  speed           median step times of stage A (embedding gradient), stage B (UNet fine-tune) and a guided\n" +
    "                  sampling step, their GFLOP/s against a 2048² matmul on the same run, the batch-2 UNet forward\n" +
    "                  time by layer type, and peak resident memory.\n" +
    "  stage-b-memory  peak resident memory and step times of stage B in one configuration (--option); peak memory\n" +
    "                  is per process, so run one process per configuration.\n" +
    "  sd15            a full-size Stable Diffusion 1.5 pipeline (bench/configs/sd15-*): load, text encoding, a\n" +
    "                  generate with --steps guided steps and VAE decode, an Imagic edit's VAE encode, stage C and\n" +
    "                  decode, and a bare VAE decode and encode, each with its own peak resident memory. Needs about\n" +
    "                  6 GB of memory and several minutes on 2 cores.\n" +
    "  sd15-edit       the SD 1.5 edit projection: on the full-size SD 1.5 (bench/configs, random weights) at\n" +
    "                  --latent-size (default 64: 512 px), the median time and peak resident memory of text encoding,\n" +
    "                  VAE encode and decode, a stage A step, stage B steps (full and LoRA, each with and without\n" +
    "                  gradient checkpointing), a guided sampling step and a DDIM inversion step; then the whole edit's\n" +
    "                  time and peak for the paper and fast recipes, against the goal of < 30 min and < 16 GB. A full\n" +
    "                  stage B needs about 14 GB: it is skipped when it does not fit (--memory-budget, --allow-large).\n" +
    "  sampling-memory peak resident memory of a guided generate (--model, --height, --width, --steps, default 1), split\n" +
    "                  into text encoding, sampling and VAE decode, next to the estimate 'imagic generate' refuses sizes by.\n" +
    "Timings taken while other work uses the cores are not measurements; memory peaks do not depend on it.\n" +
    "Examples (from the repository root):\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --model ../shared/bench/sd-mini --out speed.json\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure stage-b-memory --model bench/configs/sd15-unet --latent-size 64 --option lora\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure sd15 --steps 6 --out sd15.json\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure sd15-edit --allow-large --out sd15-edit.json\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure sampling-memory --model ../shared/reference/tiny-sd1 --height 512 --width 256")
{
    measure, model, latentSize, threads, option, steps, phases, configs, tokenizer, folder, height, width, memoryBudget, allowLarge, attentionCore, output,
};
root.SetAction(result =>
{
    string mode = result.GetValue(measure)!;
    torch.set_num_threads(result.GetValue(threads) ?? 2);
    string json = mode switch
    {
        "stage-b-memory" => StageBMemory(result.GetValue(model) ?? "../shared/bench/sd-mini", result.GetValue(option)!,
            result.GetValue(latentSize) ?? 32, result.GetValue(steps) ?? 2),
        "sd15" => Sd15(result.GetValue(configs)!, result.GetValue(tokenizer)!, 8 * (result.GetValue(latentSize) ?? 64),
            result.GetValue(steps) ?? 6, result.GetValue(phases)!, result.GetValue(folder)),
        "sd15-edit" => Sd15Edit(result.GetValue(configs)!, result.GetValue(tokenizer)!, result.GetValue(latentSize) ?? 64,
            result.GetValue(steps) ?? 3, result.GetValue(memoryBudget), result.GetValue(allowLarge)),
        "sampling-memory" => SamplingMemoryPeaks(result.GetValue(model) ?? throw new ImagicException("sampling-memory needs --model."),
            result.GetValue(tokenizer)!, result.GetValue(height) ?? 512, result.GetValue(width) ?? 512, result.GetValue(steps) ?? 1),
        _ => Speed(result.GetValue(model) ?? "../shared/bench/sd-mini", result.GetValue(latentSize) ?? 32, result.GetValue(attentionCore)!),
    };
    if (result.GetValue(output) is string path)
    {
        AtomicFile.WriteAllText(path, json);
        Console.WriteLine($"Wrote {Path.GetFullPath(path)}");
    }
    return 0;
});

try
{
    var parsed = root.Parse(args);
    if (parsed.Errors.Count > 0)
    {
        // AcceptOnlyFromAmong lists the allowed values one per line; keep the error on one.
        Console.Error.WriteLine($"error: {System.Text.RegularExpressions.Regex.Replace(parsed.Errors[0].Message, @"\s*\n\s*", " ")}");
        Console.Error.WriteLine("Run with --help for the options.");
        return 1;
    }
    Imagic.NativeLog.QuietWarnings();
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is ImagicException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static string Speed(string model, int latentSize, string attentionCore)
{
    WarnAboutTimings();
    var report = SpeedBenchmark.RunOnConfigs(model, latentSize, log: Console.WriteLine, attentionCore: attentionCore);
    if (attentionCore == "linear")
        Console.WriteLine($"Attention core '{attentionCore}': a bound, not the model's output.");
    Console.WriteLine();
    Console.WriteLine($"{"step",-32} {"batch",5} {"median s",9} {"GFLOP",8} {"GFLOP/s",8}");
    foreach (var s in report.Steps)
        Console.WriteLine($"{s.Name,-32} {s.Batch,5} {s.MedianSeconds,9:F3} {s.Gflop,8:F2} {s.GflopPerSecond,8:F1}");
    Console.WriteLine("Batch-2 UNet forward time by layer type: " +
        string.Join(", ", report.ForwardSecondsByLayerType.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value:F3} s")));
    Console.WriteLine($"UNet forward at batch 1: {report.UNetForwardGflopBatch1:F2} GFLOP; matmul 2048²: {report.MatmulGflopPerSecond:F1} GFLOP/s; " +
        $"peak RSS {report.PeakResidentMegabytes:F0} MB; {report.Threads} threads");
    return report.ToJson();
}

static string StageBMemory(string model, string option, int latentSize, int steps)
{
    var report = StageBMemoryBenchmark.Run(model, option, latentSize, steps, log: Console.WriteLine);
    Console.WriteLine();
    Console.WriteLine($"stage B '{report.Option}' at {report.LatentSize}×{report.LatentSize} latents: peak RSS {report.PeakResidentMegabytes:F0} MB " +
        $"(UNet weights {report.ParameterMegabytes:F0} MB, trained parameters {report.TrainedParameters:N0}); " +
        $"step times {string.Join(", ", report.StepSeconds.Select(s => $"{s:F2} s"))} (steady {report.SteadyStepSeconds:F2} s); " +
        $"{report.Threads} threads; {report.Machine}");
    return report.ToJson();
}

static string Sd15(string configsDir, string tokenizerDir, int size, int steps, string phaseList, string? folder)
{
    var phases = phaseList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    foreach (var p in phases)
        if (!Sd15Benchmark.PhaseNames.Contains(p))
            throw new ImagicException($"--phases: unknown phase '{p}'; use some of {string.Join(",", Sd15Benchmark.PhaseNames)}.");
    WarnAboutTimings();
    var report = Sd15Benchmark.Run(configsDir, tokenizerDir, size, steps, phases, Console.WriteLine, folder);
    Console.WriteLine();
    Console.WriteLine($"{"phase",-40} {"wall s",8} {"steps s",8} {"peak MB",8} {"from MB",8}");
    foreach (var p in report.Phases)
    {
        Console.WriteLine($"{p.Name,-40} {p.Seconds,8:F1} {(p.StepSeconds.Count == 0 ? "" : p.StepSeconds.Sum().ToString("F1", CultureInfo.InvariantCulture)),8} " +
            $"{p.PeakResidentMegabytes,8:F0} {p.ResidentBeforeMegabytes,8:F0}");
        foreach (var part in p.Parts)
            Console.WriteLine($"  {part.Name,-38} {part.Seconds,8:F1} {"",8} {part.PeakResidentMegabytes,8:F0}");
    }
    Console.WriteLine(report.PeakResetPerPhase
        ? "Each peak is that phase's own (the high-water mark was reset at its start); 'from' is the resident set it started from."
        : "This kernel could not reset the high-water mark: each peak is the process's peak so far. Run one phase per process (--phases).");
    Console.WriteLine($"Weights {report.WeightMegabytes:F0} MB in float32; {report.Threads} threads; VAE {report.VaeMode}; {report.Machine}");
    return report.ToJson();
}

static string Sd15Edit(string configsDir, string tokenizerDir, int latentSize, int timed, double? budget, bool allowLarge)
{
    WarnAboutTimings();
    var r = Sd15EditBenchmark.Run(configsDir, tokenizerDir, latentSize, timed, budget, allowLarge, Console.WriteLine);
    Console.WriteLine();
    Console.WriteLine($"{"phase",-50} {"batch",5} {"median s",9} {"min s",8} {"peak MB",8} {"from MB",8}");
    foreach (var p in r.Phases)
        Console.WriteLine(p.Skipped is null
            ? $"{p.Name,-50} {p.UNetBatch,5} {p.MedianSeconds,9:F2} {p.MinSeconds,8:F2} {p.PeakResidentMegabytes,8:F0} {p.ResidentBeforeMegabytes,8:F0}"
            : $"{p.Name,-50} {p.UNetBatch,5} skipped: {p.Skipped}");
    Console.WriteLine(r.PeakResetPerPhase
        ? "Each peak is that phase's own (the high-water mark was reset at its start); 'from' is the resident set it started from."
        : "This kernel could not reset the high-water mark: each peak is the process's peak so far.");
    foreach (var e in r.Projections)
    {
        Console.WriteLine();
        Console.WriteLine($"Whole {r.Width}×{r.Height} edit, recipe '{e.Recipe}':");
        Console.WriteLine($"  {"term",-36} {"count",6} {"s each",8} {"minutes",8} {"share",6}");
        foreach (var t in e.Terms)
            Console.WriteLine($"  {t.Name,-36} {t.Count,6} {(t.StepSeconds is double s ? s.ToString("F2", CultureInfo.InvariantCulture) : "—"),8} " +
                $"{(t.Seconds is double total ? (total / 60).ToString("F1", CultureInfo.InvariantCulture) : "skipped"),8} " +
                $"{(t.Seconds is double part && e.Seconds is double all ? (part / all).ToString("P0", CultureInfo.InvariantCulture) : ""),6}");
        Console.WriteLine(e.Seconds is double whole
            ? $"  total {whole / 60:F1} min; peak {e.PeakResidentMegabytes / 1024:F1} GB ({e.PeakPhase})"
            : $"  total at least {e.KnownSeconds / 60:F1} min (a term was skipped); peak at least {e.PeakResidentMegabytes / 1024:F1} GB of the phases measured");
        foreach (var note in e.Notes) Console.WriteLine($"  {note}");
        if (e.Recipe == Imagic.Editing.ImagicRecipes.Fast)
            Console.WriteLine(GoalLine(r, e));
    }
    return r.ToJson();
}

// Whether the fast recipe meets issue 20's goal; if not, what stands in the way.
static string GoalLine(Sd15EditReport r, EditProjection e)
{
    string goal = $"  Goal (issue 20): a whole {r.Width} px SD 1.5 edit in < {r.GoalMinutes:F0} min and < {r.GoalGigabytes:F0} GB on 2 cores";
    if (e.MeetsGoal is null) return $"{goal}: not known, a term was skipped.";
    if (e.MeetsGoal == true) return $"{goal}: met ({e.Seconds / 60:F1} min, {e.PeakResidentMegabytes / 1024:F1} GB).";
    var dominant = e.Terms.First(t => t.Name == e.Dominant);
    var reasons = new List<string>();
    if (e.Seconds >= r.GoalMinutes * 60)
    {
        double rest = e.Seconds!.Value - dominant.Seconds!.Value;
        double needed = (r.GoalMinutes * 60 - rest) / dominant.Count;
        reasons.Add($"time {e.Seconds / 60:F1} min, dominated by {dominant.Name} ({dominant.Seconds / e.Seconds:P0}); with the rest unchanged its step " +
            (needed > 0 ? $"would need ≤ {needed:F2} s instead of {dominant.StepSeconds:F2} s" : "cannot bring it under the goal alone"));
    }
    if (e.PeakResidentMegabytes >= r.GoalGigabytes * 1024)
        reasons.Add($"peak {e.PeakResidentMegabytes / 1024:F1} GB, in {e.PeakPhase}");
    return $"{goal}: NOT met: {string.Join("; ", reasons)}.";
}

static string SamplingMemoryPeaks(string model, string tokenizerDir, int height, int width, int steps)
{
    var r = SamplingMemoryBenchmark.Run(model, tokenizerDir, height, width, steps, Console.WriteLine);
    Console.WriteLine();
    Console.WriteLine($"{r.Model} at {r.Width}×{r.Height}, {r.Steps} guided step(s), {r.Threads} threads: loaded {r.LoadedResidentMegabytes:F0} MB " +
        $"(weights {r.WeightMegabytes:F0} MB); peak above loaded: " +
        string.Join(", ", r.Parts.Select(p => $"{p.Name} {p.PeakResidentMegabytes - r.LoadedResidentMegabytes:F0} MB")));
    Console.WriteLine($"Estimate {r.EstimateMegabytes:F0} MB = weights {r.EstimateWeightsMegabytes:F0} + terms UNet {r.EstimateUNetMegabytes:F0} / " +
        $"decoder {r.EstimateDecoderMegabytes:F0} MB; measured peak {r.Parts.Max(p => p.PeakResidentMegabytes):F0} MB " +
        $"(estimate / peak = {r.EstimateMegabytes / r.Parts.Max(p => p.PeakResidentMegabytes):F2})" +
        (r.PeakResetPerPart ? "" : "; this kernel could not reset the high-water mark, so each part's peak is the process's so far"));
    return r.ToJson();
}

static void WarnAboutTimings() =>
    Console.WriteLine("Note: timings taken while other work uses the cores are not measurements; rerun on a quiet machine. " +
        "Memory peaks do not depend on it.");

// An int option that must be a positive integer, with a one-line message naming the option and the text.
static Option<int?> PositiveInteger(string name, string description) => new(name)
{
    Description = description,
    CustomParser = r =>
    {
        string text = r.Tokens[0].Value;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0)
            return value;
        r.AddError($"{name} must be a positive integer (got '{text}').");
        return null;
    },
};
