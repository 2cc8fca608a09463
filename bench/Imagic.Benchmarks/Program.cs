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
    Description = "What to measure: 'speed', 'stage-b-memory' or 'sd15'; see the modes above.",
    DefaultValueFactory = _ => "speed",
};
measure.AcceptOnlyFromAmong("speed", "stage-b-memory", "sd15");
var model = new Option<string?>("--model")
{
    Description = "A folder with unet/config.json (and optionally scheduler/scheduler_config.json); the UNet is built from it with " +
        "random weights. Default ../shared/bench/sd-mini. Not used by sd15.",
};
var latentSize = PositiveInteger("--latent-size", "Latent side: 32 for 256 px, 64 for SD 1.5's 512 px. Default 32; sd15: 64.");
var threads = PositiveInteger("--threads", "CPU threads. Default 2.");
var option = new Option<string>("--option")
{
    Description = "stage-b-memory: which stage B configuration to run.",
    DefaultValueFactory = _ => "full",
};
option.AcceptOnlyFromAmong([.. StageBMemoryBenchmark.Options]);
var steps = PositiveInteger("--steps", "stage-b-memory: stage B steps (default 2). sd15: guided DDIM steps of the generate and of stage C (default 6).");
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
    "Timings taken while other work uses the cores are not measurements; memory peaks do not depend on it.\n" +
    "Examples (from the repository root):\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --model ../shared/bench/sd-mini --out speed.json\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure stage-b-memory --model bench/configs/sd15-unet --latent-size 64 --option lora\n" +
    "  dotnet run -c Release --project bench/Imagic.Benchmarks -- --measure sd15 --steps 6 --out sd15.json")
{
    measure, model, latentSize, threads, option, steps, phases, configs, tokenizer, folder, output,
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
        _ => Speed(result.GetValue(model) ?? "../shared/bench/sd-mini", result.GetValue(latentSize) ?? 32),
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
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is ImagicException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static string Speed(string model, int latentSize)
{
    WarnAboutTimings();
    var report = SpeedBenchmark.RunOnConfigs(model, latentSize, log: Console.WriteLine);
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
