using Imagic.Benchmarks;
using Imagic.IO;
using TorchSharp;

// Benchmarks of the Imagic stages (see docs/performance.md and docs/memory.md).
// Usage: dotnet run -c Release --project bench/Imagic.Benchmarks -- [--model DIR] [--latent-size N] [--threads N] [--out FILE]
//   Speed (default): step times of stages A, B and C, FLOP rates, peak RSS.
//   --measure stage-b-memory --option full|checkpointing|lora|lora+checkpointing [--steps N]:
//     peak RSS and step times of stage B in one configuration; run one process per configuration.
string model = Arg("--model") ?? "../shared/bench/sd-mini";
int latentSize = int.Parse(Arg("--latent-size") ?? "32");
int threads = int.Parse(Arg("--threads") ?? "2");
string? output = Arg("--out");
string measure = Arg("--measure") ?? "speed";

torch.set_num_threads(threads);
try
{
    string json;
    if (measure == "stage-b-memory")
    {
        var report = StageBMemoryBenchmark.Run(model, Arg("--option") ?? "full", latentSize, int.Parse(Arg("--steps") ?? "2"),
            log: Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"stage B '{report.Option}' at {report.LatentSize}×{report.LatentSize} latents: peak RSS {report.PeakResidentMegabytes:F0} MB " +
            $"(UNet weights {report.ParameterMegabytes:F0} MB, trained parameters {report.TrainedParameters:N0}); " +
            $"step times {string.Join(", ", report.StepSeconds.Select(s => $"{s:F2} s"))} (steady {report.SteadyStepSeconds:F2} s); " +
            $"{report.Threads} threads; {report.Machine}");
        json = report.ToJson();
    }
    else if (measure == "speed")
    {
        var report = SpeedBenchmark.RunOnConfigs(model, latentSize, log: Console.WriteLine);
        Console.WriteLine();
        Console.WriteLine($"{"step",-32} {"batch",5} {"median s",9} {"GFLOP",8} {"GFLOP/s",8}");
        foreach (var s in report.Steps)
            Console.WriteLine($"{s.Name,-32} {s.Batch,5} {s.MedianSeconds,9:F3} {s.Gflop,8:F2} {s.GflopPerSecond,8:F1}");
        Console.WriteLine("Batch-2 UNet forward time by layer type: " +
            string.Join(", ", report.ForwardSecondsByLayerType.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value:F3} s")));
        Console.WriteLine($"UNet forward at batch 1: {report.UNetForwardGflopBatch1:F2} GFLOP; matmul 2048²: {report.MatmulGflopPerSecond:F1} GFLOP/s; " +
            $"peak RSS {report.PeakResidentMegabytes:F0} MB; {report.Threads} threads");
        json = report.ToJson();
    }
    else
    {
        throw new Imagic.ImagicException($"Unknown --measure '{measure}'; use speed or stage-b-memory.");
    }
    if (output is not null)
        AtomicFile.WriteAllText(output, json);
    return 0;
}
catch (Imagic.ImagicException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
