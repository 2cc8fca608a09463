using Imagic.Benchmarks;
using Imagic.IO;
using TorchSharp;

// Speed benchmark of the Imagic stages (see docs/performance.md).
// Usage: dotnet run -c Release --project bench/Imagic.Benchmarks -- [--model DIR] [--latent-size N] [--threads N] [--out FILE]
string model = Arg("--model") ?? "../shared/bench/sd-mini";
int latentSize = int.Parse(Arg("--latent-size") ?? "32");
int threads = int.Parse(Arg("--threads") ?? "2");
string? output = Arg("--out");

torch.set_num_threads(threads);
try
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
    if (output is not null)
        AtomicFile.WriteAllText(output, report.ToJson());
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
