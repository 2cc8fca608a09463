using System.Text.Json;
using Imagic.Studio;
using Imagic.Tests.Editing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;

namespace Imagic.Tests.Studio;

/// <summary>
/// A studio on tiny-sd1 with few-step Imagic defaults, in process: an in-memory server for the API tests, or
/// Kestrel on a free loopback port for the browser test.
/// </summary>
internal sealed class StudioTestHost : IAsyncDisposable
{
    static readonly Lazy<string> FastModel = new(CreateFastModel);
    static readonly Lazy<string> FastBundledModel = new(CreateFastBundledModel);

    public WebApplication App { get; }
    public HttpClient Client { get; }
    public string RunsDir { get; }
    public string SamplesDir { get; }

    StudioTestHost(WebApplication app, HttpClient client, string runsDir, string samplesDir)
    {
        App = app;
        Client = client;
        RunsDir = runsDir;
        SamplesDir = samplesDir;
    }

    /// <summary>A copy of tiny-sd1 whose imagic_defaults.json trains and samples in a few steps.</summary>
    public static string FastModelDir => FastModel.Value;

    /// <summary>A copy of the bundled shapes model whose imagic_defaults.json is its own with few sampling steps.</summary>
    public static string FastBundledModelDir => FastBundledModel.Value;

    public static async Task<StudioTestHost> StartAsync(string? runsDir = null, string? modelDir = null, long maxUploadBytes = 20 << 20,
        bool kestrel = false)
    {
        var dir = TestPaths.NewTempDir("imagic-studio");
        runsDir ??= Path.Combine(dir, "runs");
        var samples = Path.Combine(dir, "samples");
        Directory.CreateDirectory(samples);
        EditTestData.WriteInputImage(samples, "disc.png");
        var options = new StudioOptions(modelDir ?? FastModelDir, runsDir, samples, maxUploadBytes);
        var app = StudioApp.Create(options, builder =>
        {
            builder.Logging.ClearProviders();
            if (kestrel) builder.WebHost.UseUrls("http://127.0.0.1:0");
            else builder.WebHost.UseTestServer();
        });
        await app.StartAsync();
        var client = kestrel ? new HttpClient { BaseAddress = new Uri(app.Urls.First()) } : app.GetTestClient();
        client.Timeout = TimeSpan.FromMinutes(3);
        return new StudioTestHost(app, client, Path.GetFullPath(runsDir), samples);
    }

    /// <summary>POSTs a new edit of the test disc with few steps; returns the response.</summary>
    /// <remarks>A null step count is left out of the form: the recipe's count applies.</remarks>
    public Task<HttpResponseMessage> PostEditAsync(string prompt = "a photo of a dog standing", int? stepsA = 3, int? stepsB = 3,
        Action<MultipartFormDataContent>? change = null, byte[]? image = null, string imageName = "photo.png")
    {
        var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(image ?? File.ReadAllBytes(Path.Combine(SamplesDir, "disc.png"))), "image", imageName },
            { new StringContent(prompt), "prompt" },
        };
        if (stepsA is int a) form.Add(new StringContent(a.ToString()), "embedding_steps");
        if (stepsB is int b) form.Add(new StringContent(b.ToString()), "finetune_steps");
        change?.Invoke(form);
        return Client.PostAsync("/api/edits", form);
    }

    public async Task<string> StartEditAsync(int stepsA = 3, int stepsB = 3)
    {
        var response = await PostEditAsync(stepsA: stepsA, stepsB: stepsB);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await Json(response)).GetProperty("id").GetString()!;
    }

    /// <summary>Reads the edit's server-sent events until <paramref name="until"/> holds for one; returns them all.</summary>
    public async Task<List<JsonElement>> ReadEventsAsync(string id, Func<JsonElement, bool> until)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using var response = await Client.GetAsync($"/api/edits/{id}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var events = new List<JsonElement>();
        while (await reader.ReadLineAsync(timeout.Token) is string line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            var state = JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
            events.Add(state);
            if (until(state)) return events;
        }
        return events;
    }

    public async Task<JsonElement> WaitForStatusAsync(string id, params string[] statuses) =>
        (await ReadEventsAsync(id, e => statuses.Contains(e.GetProperty("status").GetString()))).Last();

    public static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    static string CreateFastModel()
    {
        var dir = TestPaths.NewTempDir("imagic-studio-model");
        File.Copy(Path.Combine(TestPaths.TinySd1, "model_index.json"), Path.Combine(dir, "model_index.json"));
        foreach (var sub in new[] { "scheduler", "text_encoder", "tokenizer", "unet", "vae" })
        {
            Directory.CreateDirectory(Path.Combine(dir, sub));
            foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.TinySd1, sub)))
                File.Copy(file, Path.Combine(dir, sub, Path.GetFileName(file)));
        }
        // Learning rates large enough to move the random tiny model in a few steps, so η visibly matters; a fast recipe
        // of its own, as the bundled model has.
        File.WriteAllText(Path.Combine(dir, "imagic_defaults.json"), """
            { "embedding_steps": 3, "embedding_lr": 0.01, "finetune_steps": 3, "finetune_lr": 0.001, "sampling_steps": 4,
              "guidance_scale": 3, "eta": 0.7, "seed": 7, "checkpoint_every": 2,
              "recipes": { "fast": { "embedding_steps": 2, "finetune_steps": 1 } } }
            """);
        return dir;
    }

    static string CreateFastBundledModel()
    {
        var dir = TestPaths.NewTempDir("imagic-studio-shapes");
        foreach (var file in Directory.EnumerateFiles(TestPaths.BundledModel, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dir, Path.GetRelativePath(TestPaths.BundledModel, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var defaults = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "imagic_defaults.json")))!;
        defaults["sampling_steps"] = 6;
        File.WriteAllText(Path.Combine(dir, "imagic_defaults.json"), defaults.ToJsonString());
        return dir;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
