using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Threading.Channels;
using Imagic.Editing;
using Imagic.Imaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Imagic.Studio;

/// <summary>
/// Imagic Studio: a local web app to edit a photo, watch stages A and B train and slide η, and the HTTP API it
/// uses (documented in the README). ASP.NET Core minimal APIs on Kestrel.
/// </summary>
public static class StudioApp
{
    /// <summary>How long stopping may take: the running edit finishes its step and writes its checkpoint.</summary>
    static readonly TimeSpan ShutdownTimeout = TimeSpan.FromMinutes(5);

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // prompts and errors stay readable
    };

    /// <summary>Builds the app; <paramref name="configure"/> may adjust the builder (tests use an in-memory server).</summary>
    /// <exception cref="ImagicException">The model folder is missing or its imagic_defaults.json is invalid.</exception>
    public static WebApplication Create(StudioOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>() });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<EditQueue>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EditQueue>());
        builder.Services.AddSingleton<Studio>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.Services.Configure<JsonOptions>(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        // Reading a larger form fails with InvalidDataException, answered with 413 below.
        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = options.MaxUploadBytes + 64 * 1024);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxUploadBytes + 64 * 1024);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configure?.Invoke(builder);

        HeapTuning.Apply();
        NativeLog.QuietWarnings();
        var app = builder.Build();
        app.Services.GetRequiredService<Studio>(); // fail now, with one line, on a bad model folder
        app.Use(OneLineErrors);
        MapPage(app);
        MapApi(app);
        return app;
    }

    /// <summary>Every failure is a status code with <c>{"error": "one line"}</c>, never a stack trace.</summary>
    static async Task OneLineErrors(HttpContext http, RequestDelegate next)
    {
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away (a slider moved on, a page closed): nobody to answer.
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var (status, message) = e switch
            {
                BadHttpRequestException bad => (bad.StatusCode, bad.Message),
                InvalidDataException => (StatusCodes.Status413PayloadTooLarge, "The request is too large."),
                ImagicException => (StatusCodes.Status400BadRequest, e.Message),
                _ => (StatusCodes.Status500InternalServerError, $"Unexpected error ({e.GetType().Name}): {e.Message}"),
            };
            await Error(status, message).ExecuteAsync(http);
        }
    }

    static IResult Error(int status, string message) =>
        Results.Json(new { error = message.ReplaceLineEndings(" ") }, Json, statusCode: status);

    static void MapPage(WebApplication app)
    {
        foreach (var (route, file, type) in new[]
                 {
                     ("/", "index.html", "text/html; charset=utf-8"), ("/app.js", "app.js", "text/javascript; charset=utf-8"),
                     ("/app.css", "app.css", "text/css; charset=utf-8"), ("/favicon.svg", "favicon.svg", "image/svg+xml"),
                 })
        {
            var bytes = ReadResource($"wwwroot/{file}");
            app.MapGet(route, () => Results.Bytes(bytes, type));
        }
    }

    static byte[] ReadResource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The page resource {name} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    static void MapApi(WebApplication app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/info", (Studio s) => Results.Json(new
        {
            model = s.Options.ModelDir,
            model_name = Path.GetFileName(s.Options.ModelDir.TrimEnd(Path.DirectorySeparatorChar)),
            runs = s.Runs.Root,
            recipes = s.Recipes.All.Select(r => new
            {
                name = r.Name, description = r.Description,
                embedding_steps = r.Options.EmbeddingSteps, finetune_steps = r.Options.FinetuneSteps,
            }),
            samples = s.Samples,
            defaults = new
            {
                embedding_steps = s.ModelDefaults.EmbeddingSteps, finetune_steps = s.ModelDefaults.FinetuneSteps,
                seed = s.ModelDefaults.Seed, eta = s.ModelDefaults.Eta, eta_sweep = s.ModelDefaults.EtaSweep, mask = s.ModelDefaults.Mask,
            },
            limits = new
            {
                max_upload_bytes = s.Options.MaxUploadBytes, max_training_steps = s.Options.MaxTrainingSteps,
                min_eta = StudioOptions.MinEta, max_eta = StudioOptions.MaxEta,
            },
        }, Json));
        api.MapGet("/samples/{name}", (string name, Studio s) =>
            s.Samples.Contains(name) ? Results.File(Path.GetFullPath(Path.Combine(s.Options.SamplesDir!, name)), ContentType(name))
                : Error(404, $"No sample named '{name}'."));

        api.MapGet("/edits", (Studio s) => Results.Json(s.List(), Json));
        api.MapPost("/edits", CreateEdit);
        api.MapGet("/edits/{id}", (string id, Studio s) => s.Describe(id) is EditState state ? Results.Json(state, Json) : NotFound(id));
        api.MapGet("/edits/{id}/events", Events);
        api.MapGet("/edits/{id}/losses", (string id, Studio s) =>
        {
            if (s.Describe(id) is null) return NotFound(id);
            var (a, b) = s.Losses(id);
            return Results.Json(new { stage_a = a.Select(Finite), stage_b = b.Select(Finite) }, Json);
        });
        api.MapGet("/edits/{id}/input", (string id, Studio s) =>
        {
            var path = s.Describe(id) is null ? null : Path.Combine(s.Runs.DirOf(id)!, "input.png");
            return path is not null && File.Exists(path) ? Results.File(path, "image/png") : NotFound(id, "input image");
        });
        api.MapGet("/edits/{id}/sample", Sample);
        api.MapGet("/edits/{id}/grid", Grid);
        api.MapGet("/edits/{id}/mask", Region);
        api.MapDelete("/edits/{id}", (string id, Studio s) =>
        {
            if (s.Describe(id) is not EditState state) return NotFound(id);
            if (s.Queue.Find(id) is not EditJob job || state.IsFinal)
                return Error(409, $"Edit {id} is {state.Status}, not queued or training: there is nothing to cancel.");
            s.Queue.Cancel(job);
            return Results.Accepted($"/api/edits/{id}", s.Describe(id));
        });
        api.MapPost("/edits/{id}/resume", (string id, Studio s) =>
        {
            if (s.Describe(id) is not EditState state) return NotFound(id);
            if (!s.Runs.Exists(id) || state.Status is not (EditState.Cancelled or EditState.Interrupted or EditState.Failed))
                return Error(409, $"Edit {id} is {state.Status}; only a cancelled, failed or interrupted run with a folder can be resumed.");
            return Results.Json(s.ResumeEdit(id, state), Json, statusCode: StatusCodes.Status202Accepted);
        });
    }

    static double? Finite(double v) => double.IsFinite(v) ? v : null;

    static IResult NotFound(string id, string what = "edit") => Error(404, $"No {what} with id '{id}'.");

    static string ContentType(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".jpg" or ".jpeg" => "image/jpeg",
        ".webp" => "image/webp",
        _ => "image/png",
    };

    /// <summary><c>POST /api/edits</c>: multipart <c>image</c> (or <c>sample</c>, a name from /api/info), <c>prompt</c>,
    /// optional <c>recipe</c>, <c>seed</c>, <c>embedding_steps</c>, <c>finetune_steps</c>, <c>mask</c>.</summary>
    static async Task<IResult> CreateEdit(HttpRequest http, Studio s)
    {
        if (!http.HasFormContentType)
            return Error(415, "Send multipart/form-data with an 'image' file (or a 'sample' name) and a 'prompt'.");
        IFormCollection form;
        try
        {
            form = await http.ReadFormAsync(http.HttpContext.RequestAborted);
        }
        catch (InvalidDataException)
        {
            return Error(413, $"The upload is larger than the limit of {s.Options.MaxUploadBytes} bytes.");
        }

        string prompt = form["prompt"].ToString().Trim();
        if (prompt.Length == 0)
            return Error(400, "prompt is empty: describe the edited image, e.g. \"a photo of a dog standing\".");
        if (prompt.Length > 1000)
            return Error(400, $"prompt is {prompt.Length} characters long; at most 1000 are accepted.");
        string recipe = form["recipe"].ToString() is { Length: > 0 } r ? r : Recipes.Default;
        if (!s.Recipes.Exists(recipe))
            return Error(400, $"recipe '{recipe}' is unknown; choose one of: {string.Join(", ", s.Recipes.All.Select(x => x.Name))}.");
        if (!TryParse(form["seed"], 0, long.MaxValue, out long? seed, out var seedError)) return Error(400, $"seed {seedError}");
        if (!TryParse(form["embedding_steps"], 0, s.Options.MaxTrainingSteps, out long? stepsA, out var aError))
            return Error(400, $"embedding_steps {aError}");
        if (!TryParse(form["finetune_steps"], 0, s.Options.MaxTrainingSteps, out long? stepsB, out var bError))
            return Error(400, $"finetune_steps {bError}");
        var defaults = s.Recipes.Options(recipe);
        if (!TryMask(form["mask"], defaults.Mask, out var mask, out var maskError)) return Error(400, maskError);

        var options = defaults with
        {
            Seed = seed ?? defaults.Seed,
            Mask = mask,
            EmbeddingSteps = (int?)stepsA ?? defaults.EmbeddingSteps,
            FinetuneSteps = (int?)stepsB ?? defaults.FinetuneSteps,
            // The edit itself samples only the default η; the page asks for every other value on demand.
            EtaSweep = new[] { defaults.Eta },
        };
        options.Validate();

        string id = s.Runs.NewId(prompt, s.Queue.IsTaken);
        string imagePath;
        if (form.Files["image"] is IFormFile file)
        {
            if (file.Length == 0) return Error(400, $"image '{file.FileName}' is empty.");
            if (file.Length > s.Options.MaxUploadBytes)
                return Error(413, $"image '{file.FileName}' is {file.Length} bytes; the limit is {s.Options.MaxUploadBytes}.");
            var extension = Path.GetExtension(file.FileName).ToLowerInvariant();
            if (extension is not (".png" or ".jpg" or ".jpeg" or ".webp")) extension = ".img";
            imagePath = Path.Combine(s.Runs.Uploads, id + extension);
            Directory.CreateDirectory(s.Runs.Uploads);
            await using (var target = File.Create(imagePath))
                await file.CopyToAsync(target, http.HttpContext.RequestAborted);
            try
            {
                ImageIO.Load(imagePath);
            }
            catch (ImagicException decode)
            {
                File.Delete(imagePath);
                return Error(400, $"image '{file.FileName}': {decode.Message.Replace(imagePath, "the upload")}");
            }
        }
        else if (form["sample"].ToString() is { Length: > 0 } sample)
        {
            if (!s.Samples.Contains(sample))
                return Error(400, $"sample '{sample}' is not one of: {string.Join(", ", s.Samples)}.");
            imagePath = Path.Combine(s.Options.SamplesDir!, sample);
        }
        else
            return Error(400, "Send the photo as the file field 'image' (or name one of the samples in the field 'sample').");

        var state = s.StartEdit(id, imagePath, prompt, recipe, options);
        return Results.Json(state, Json, statusCode: StatusCodes.Status202Accepted);
    }

    static bool TryParse(Microsoft.Extensions.Primitives.StringValues raw, long min, long max, out long? value, out string error)
    {
        value = null;
        error = "";
        var text = raw.ToString().Trim();
        if (text.Length == 0) return true;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v < min || v > max)
        {
            error = $"must be a whole number from {min} to {max}, got '{text}'.";
            return false;
        }
        value = v;
        return true;
    }

    /// <summary>η from the query: two decimals (the cache's key) within the slider's range, or the run's default.</summary>
    static bool TryEta(string? text, double fallback, out double eta, out string error)
    {
        error = "";
        eta = fallback;
        if (!string.IsNullOrWhiteSpace(text) &&
            !double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out eta))
        {
            error = $"eta must be a number, got '{text}'.";
            return false;
        }
        eta = Math.Round(eta, 2);
        if (!(eta >= StudioOptions.MinEta && eta <= StudioOptions.MaxEta))
        {
            error = string.Create(CultureInfo.InvariantCulture, $"eta must be from {StudioOptions.MinEta} to {StudioOptions.MaxEta}, got '{text}'.");
            return false;
        }
        return true;
    }

    /// <summary>Stage C's mask from a query or form field: <c>auto</c> or <c>none</c>, or <paramref name="fallback"/> when absent.</summary>
    static bool TryMask(string? text, EditMaskMode fallback, out EditMaskMode mask, out string error)
    {
        error = "";
        mask = fallback;
        switch (text?.Trim())
        {
            case null or "": return true;
            case "auto": mask = EditMaskMode.Auto; return true;
            case "none": mask = EditMaskMode.None; return true;
            default:
                error = $"mask must be 'auto' or 'none', got '{text}'.";
                return false;
        }
    }

    /// <summary>The run's folder if it is trained and can be sampled, else the error to answer.</summary>
    static IResult? CheckSampleable(string id, Studio s, out EditState? state)
    {
        state = s.Describe(id);
        if (state is null) return NotFound(id);
        if (state.Status != EditState.Ready)
            return Error(409, $"Edit {id} is {state.Status}; it can be sampled once it is ready.");
        return null;
    }

    /// <summary>
    /// <c>GET /api/edits/{id}/sample?eta=0.7&amp;seed=0[&amp;mask=auto|none][&amp;download=1]</c>: the PNG at (η, seed), with
    /// the mask if asked (by default the run's own setting).
    /// </summary>
    static async Task<IResult> Sample(string id, HttpContext http, Studio s)
    {
        if (CheckSampleable(id, s, out var state) is IResult problem) return problem;
        if (!TryEta(http.Request.Query["eta"], state!.Eta, out double eta, out var etaError)) return Error(400, etaError);
        if (!TryParse(http.Request.Query["seed"], 0, long.MaxValue, out long? seed, out var seedError)) return Error(400, $"seed {seedError}");
        if (!TryMask(http.Request.Query["mask"], state.Mask, out var mask, out var maskError)) return Error(400, maskError);
        try
        {
            string runDir = s.Runs.DirOf(id)!;
            var (path, fromCache) = await s.Sampler.SampleAsync(runDir, eta, seed ?? state.Seed, mask, http.RequestAborted);
            http.Response.Headers["X-Imagic-Cache"] = fromCache ? "hit" : "miss";
            http.Response.Headers.CacheControl = "no-cache";
            var input = Path.Combine(runDir, "input.png");
            if (File.Exists(input) && ImageSpread.LostThePicture(ImageIO.Load(path), ImageIO.Load(input)))
                http.Response.Headers["X-Imagic-Warning"] = "This image is one flat colour, so the edit failed at this η: try a lower η.";
            string? download = http.Request.Query["download"] == "1" ? $"{id}_{Path.GetFileName(path)}" : null;
            return Results.File(path, "image/png", download);
        }
        catch (ImagicException e)
        {
            return Error(409, e.Message);
        }
    }

    /// <summary>
    /// <c>GET /api/edits/{id}/mask</c>: the run's edit region as a PNG of the input's size, white where a sample with
    /// <c>mask=auto</c> may change the input and black where it keeps the input's pixels (grey at the blended border).
    /// Estimated once per run and cached in its folder.
    /// </summary>
    static async Task<IResult> Region(string id, HttpContext http, Studio s)
    {
        if (CheckSampleable(id, s, out _) is IResult problem) return problem;
        try
        {
            var (path, fromCache) = await s.Sampler.RegionAsync(s.Runs.DirOf(id)!, http.RequestAborted);
            http.Response.Headers["X-Imagic-Cache"] = fromCache ? "hit" : "miss";
            return Results.File(path, "image/png");
        }
        catch (ImagicException e)
        {
            return Error(409, e.Message);
        }
    }

    /// <summary>
    /// <c>GET /api/edits/{id}/grid?etas=0.5,0.7,0.9&amp;seeds=2[&amp;mask=auto|none]</c>: writes the labelled η × seed grid (η
    /// across, seeds down, from the run's seed) to <c>samples/studio_grid.png</c> in the run folder and returns it.
    /// </summary>
    static async Task<IResult> Grid(string id, HttpContext http, Studio s)
    {
        if (CheckSampleable(id, s, out var state) is IResult problem) return problem;
        var etaTexts = http.Request.Query["etas"].ToString() is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : s.ModelDefaults.EtaSweep.Select(e => e.ToString(CultureInfo.InvariantCulture)).ToArray();
        var etas = new List<double>();
        foreach (var text in etaTexts)
        {
            if (!TryEta(text, 0, out double eta, out var etaError)) return Error(400, etaError);
            etas.Add(eta);
        }
        if (etas.Count is 0 or > 12) return Error(400, $"etas must list 1 to 12 values, got {etas.Count}.");
        if (!TryParse(http.Request.Query["seeds"], 1, 8, out long? seedCount, out var seedsError)) return Error(400, $"seeds {seedsError}");
        if (!TryMask(http.Request.Query["mask"], state!.Mask, out var mask, out var maskError)) return Error(400, maskError);
        var seeds = Enumerable.Range(0, (int)(seedCount ?? 2)).Select(i => state!.Seed + i).ToList();
        var dir = s.Runs.DirOf(id)!;
        try
        {
            var rows = new List<IReadOnlyList<RgbImage>>();
            foreach (var seed in seeds)
            {
                var row = new List<RgbImage>();
                foreach (var eta in etas)
                    row.Add(ImageIO.Load((await s.Sampler.SampleAsync(dir, eta, seed, mask, http.RequestAborted)).Path));
                rows.Add(row);
            }
            var grid = ImageGrid.Compose(rows, etas.Select(e => string.Create(CultureInfo.InvariantCulture, $"η={e:0.0#}")).ToList(),
                seeds.Select(x => $"seed {x}").ToList(), minCellSize: 128);
            var path = Path.Combine(dir, "samples", "studio_grid.png");
            ImageIO.SavePng(grid, path);
            return Results.File(path, "image/png", http.Request.Query["download"] == "1" ? $"{id}_grid.png" : null);
        }
        catch (ImagicException e)
        {
            return Error(409, e.Message);
        }
    }

    /// <summary><c>GET /api/edits/{id}/events</c>: server-sent events, one <c>progress</c> event per change, until the edit stops.</summary>
    static async Task Events(string id, HttpContext http, Studio s)
    {
        if (s.Describe(id) is not EditState first)
        {
            await NotFound(id).ExecuteAsync(http);
            return;
        }
        http.Response.Headers.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        var job = s.Queue.Find(id);
        var updates = Channel.CreateUnbounded<EditState>(new UnboundedChannelOptions { SingleReader = true });
        Action<EditState> listener = state => updates.Writer.TryWrite(state);
        if (job is not null)
        {
            job.Changed += listener;
            first = s.Describe(id)!; // taken after subscribing, so no change falls in between
        }
        try
        {
            await Send(http, first);
            if (job is null || first.IsFinal) return;
            await foreach (var state in updates.Reader.ReadAllAsync(http.RequestAborted))
            {
                await Send(http, state with { QueuePosition = s.Queue.PositionOf(job) });
                if (state.IsFinal) return;
            }
        }
        finally
        {
            if (job is not null) job.Changed -= listener;
        }
    }

    static async Task Send(HttpContext http, EditState state)
    {
        await http.Response.WriteAsync($"event: progress\ndata: {JsonSerializer.Serialize(state, Json)}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }
}
